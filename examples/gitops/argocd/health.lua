-- Argo CD health check for whatsapp.bakery-ia.io WhatsAppAssignment and WhatsAppPhoneNumber.
-- Argo CD has none for unknown kinds, so it cannot tell a bound assignment from a refused one;
-- this one reads the operator's kstatus conditions:
--   Stalled=True  -> Degraded     (waits on a person: duplicate number or tenant, unknown number)
--   Ready=True    -> Healthy
--   anything else -> Progressing  (not reconciled yet, settings being written, retrying)
-- Conditions written for an older metadata.generation are ignored: the operator has not acted on
-- the latest spec yet. A WhatsAppPhoneNumber without conditions is Healthy once the operator has
-- synced it from Meta (status.lastSyncTime set).
-- Installed through argocd-cm (see argocd-cm-patch.yaml, which must carry this same script).
local hs = {}
hs.status = "Progressing"
hs.message = "Waiting for whatsapp-operator to reconcile"

if obj.status == nil then
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.message = "Waiting for whatsapp-operator to observe generation " .. tostring(generation)
  return hs
end

local function describe(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  return text
end

local ready = nil
local stalled = nil
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    local current = generation == nil or c.observedGeneration == nil or c.observedGeneration >= generation
    if current and c.type == "Ready" then
      ready = c
    elseif current and c.type == "Stalled" then
      stalled = c
    end
  end
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if ready ~= nil then
  if ready.status == "True" then
    hs.status = "Healthy"
  end
  hs.message = describe(ready)
  return hs
end
if obj.kind == "WhatsAppPhoneNumber" and obj.status.lastSyncTime ~= nil then
  hs.status = "Healthy"
  hs.message = "Synced from Meta at " .. obj.status.lastSyncTime
end
return hs
