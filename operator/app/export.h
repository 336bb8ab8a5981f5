// `whatsapp-operator export`: reads the tenant service's current rows and writes the
// WhatsAppAssignment YAML that reproduces them (core::ExportAssignments), so a platform moves
// onto assignments (GitOps) without retyping: export, commit, apply, and the operator finds
// nothing to change. docs/migrating.md walks through it.
//
//   --tenant-service-url URL   required
//   --credentials-dir DIR      TENANT_SERVICE_TOKEN is read from here when present
//   --namespace NS             metadata.namespace of every assignment (default: none)
//   --output FILE              one YAML stream to FILE (default: standard output)
//   --output-dir DIR           one <name>.yaml per assignment in DIR (created if missing)
//
// Thread-safety: one call per process.
#pragma once

#include <string>
#include <vector>

namespace waop::app {

// Runs the subcommand with the arguments after "export"; returns the exit code (0 done,
// 1 the service could not be read or a file not written, 2 bad flags).
int RunExport(const std::vector<std::string>& args);

// The subcommand's --help text.
std::string ExportUsage();

}  // namespace waop::app
