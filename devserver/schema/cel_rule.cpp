#include "schema/cel_rule.h"

#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <vector>

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

struct CelNode {
  enum class Kind { kLiteral, kIdent, kSelect, kIndex, kCall, kUnary, kBinary, kTernary, kList };
  Kind kind = Kind::kLiteral;
  json literal;
  std::string name;  // ident name, field name, function name or operator
  std::vector<std::shared_ptr<const CelNode>> args;  // operands; for calls on a target, [0]
  bool has_target = false;                           // x.f(...) rather than f(...)
  std::shared_ptr<const std::regex> regex;           // matches() with a literal pattern
};

namespace {

using NodePtr = std::shared_ptr<const CelNode>;

struct Token {
  enum class Type { kEnd, kIdent, kInt, kDouble, kString, kOp } type = Type::kEnd;
  std::string text;
  size_t pos = 0;
};

Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      t.type = Token::Type::kIdent;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_double = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) {
        if (s[j] == '.') is_double = true;
        ++j;
      }
      if (j < s.size() && (s[j] == 'u' || s[j] == 'U')) ++j;  // uint suffix: same value here.
      t.type = is_double ? Token::Type::kDouble : Token::Type::kInt;
      t.text = std::string(s.substr(i, j - i));
      if (!t.text.empty() && (t.text.back() == 'u' || t.text.back() == 'U')) t.text.pop_back();
      i = j;
    } else if (c == '\'' || c == '"') {
      bool raw = !out.empty() && out.back().type == Token::Type::kIdent &&
                 (out.back().text == "r" || out.back().text == "R") && out.back().pos + 1 == i;
      if (raw) out.pop_back();
      size_t j = i + 1;
      std::string value;
      while (j < s.size() && s[j] != c) {
        if (s[j] == '\\' && !raw && j + 1 < s.size()) {
          char e = s[j + 1];
          switch (e) {
            case 'n':
              value += '\n';
              break;
            case 't':
              value += '\t';
              break;
            case '\\':
              value += '\\';
              break;
            case '\'':
              value += '\'';
              break;
            case '"':
              value += '"';
              break;
            default:
              // CEL keeps regex escapes such as \d only in raw strings; a regular string with
              // "\\." arrives here as "\." and means a literal backslash-dot in the pattern.
              value += '\\';
              value += e;
          }
          j += 2;
        } else {
          value += s[j++];
        }
      }
      if (j >= s.size()) {
        return Status::InvalidArgument("unterminated string at " + std::to_string(i));
      }
      t.type = Token::Type::kString;
      t.text = value;
      i = j + 1;
    } else {
      static const char* kOps[] = {"==", "!=", "<=", ">=", "&&", "||", "<", ">",
                                   "!",  "+",  "-",  "*",  "/",  "%",  "(", ")",
                                   "[",  "]",  ".",  ",",  "?",  ":",  "{", "}"};
      bool found = false;
      for (const char* op : kOps) {
        std::string_view o(op);
        if (s.substr(i, o.size()) == o) {
          t.type = Token::Type::kOp;
          t.text = std::string(o);
          i += o.size();
          found = true;
          break;
        }
      }
      if (!found) {
        return Status::InvalidArgument(std::string("unexpected character '") + c + "' at " +
                                       std::to_string(i));
      }
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.pos = s.size();
  out.push_back(end);
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<NodePtr> ParseAll() {
    auto node = ParseTernary();
    if (!node.ok()) return node;
    if (Peek().type != Token::Type::kEnd) return Error("unexpected '" + Peek().text + "'");
    return node;
  }

  bool uses_old_self() const { return uses_old_self_; }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  bool IsOp(std::string_view op) const {
    return Peek().type == Token::Type::kOp && Peek().text == op;
  }
  bool Accept(std::string_view op) {
    if (!IsOp(op)) return false;
    ++pos_;
    return true;
  }
  Status Error(const std::string& what) const {
    return Status::InvalidArgument(what + " at position " + std::to_string(Peek().pos));
  }
  Status Expect(std::string_view op) {
    if (Accept(op)) return Status::Ok();
    return Error("expected '" + std::string(op) + "'");
  }

  static NodePtr Make(CelNode::Kind kind, std::string name, std::vector<NodePtr> args) {
    auto n = std::make_shared<CelNode>();
    n->kind = kind;
    n->name = std::move(name);
    n->args = std::move(args);
    return n;
  }

  Result<NodePtr> ParseTernary() {
    auto cond = ParseBinary(0);
    if (!cond.ok() || !Accept("?")) return cond;
    auto a = ParseTernary();
    if (!a.ok()) return a;
    WAOP_RETURN_IF_ERROR(Expect(":"));
    auto b = ParseTernary();
    if (!b.ok()) return b;
    return Make(CelNode::Kind::kTernary, "?:", {*cond, *a, *b});
  }

  static int Precedence(const Token& t) {
    if (t.type == Token::Type::kIdent && t.text == "in") return 3;
    if (t.type != Token::Type::kOp) return -1;
    static const std::map<std::string, int> kPrec = {
        {"||", 1}, {"&&", 2}, {"==", 3}, {"!=", 3}, {"<", 3}, {"<=", 3}, {">", 3},
        {">=", 3}, {"+", 4},  {"-", 4},  {"*", 5},  {"/", 5}, {"%", 5}};
    auto it = kPrec.find(t.text);
    return it == kPrec.end() ? -1 : it->second;
  }

  Result<NodePtr> ParseBinary(int min_prec) {
    auto left = ParseUnary();
    if (!left.ok()) return left;
    while (true) {
      int prec = Precedence(Peek());
      if (prec < 0 || prec <= min_prec - 1 || prec < min_prec) break;
      std::string op = Peek().text;
      ++pos_;
      auto right = ParseBinary(prec + 1);
      if (!right.ok()) return right;
      left = Make(CelNode::Kind::kBinary, op, {*left, *right});
    }
    return left;
  }

  Result<NodePtr> ParseUnary() {
    if (Accept("!")) {
      auto x = ParseUnary();
      if (!x.ok()) return x;
      return Make(CelNode::Kind::kUnary, "!", {*x});
    }
    if (Accept("-")) {
      auto x = ParseUnary();
      if (!x.ok()) return x;
      return Make(CelNode::Kind::kUnary, "-", {*x});
    }
    return ParsePostfix();
  }

  Result<NodePtr> ParsePostfix() {
    auto node = ParsePrimary();
    if (!node.ok()) return node;
    while (true) {
      if (Accept(".")) {
        if (Peek().type != Token::Type::kIdent) return Error("expected a field name");
        std::string field = Peek().text;
        ++pos_;
        if (Accept("(")) {
          auto args = ParseArgs();
          if (!args.ok()) return args.status();
          std::vector<NodePtr> all{*node};
          all.insert(all.end(), args->begin(), args->end());
          auto call = std::make_shared<CelNode>(*Make(CelNode::Kind::kCall, field, all));
          call->has_target = true;
          WAOP_RETURN_IF_ERROR(CheckCall(*call));
          if (field == "matches" && all.size() == 2 && all[1]->kind == CelNode::Kind::kLiteral &&
              all[1]->literal.is_string()) {
            try {
              call->regex = std::make_shared<const std::regex>(all[1]->literal.get<std::string>(),
                                                               std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
              return Error(std::string("invalid regular expression: ") + e.what());
            }
          }
          node = NodePtr(call);
        } else {
          node = Make(CelNode::Kind::kSelect, field, {*node});
        }
      } else if (Accept("[")) {
        auto index = ParseTernary();
        if (!index.ok()) return index;
        WAOP_RETURN_IF_ERROR(Expect("]"));
        node = Make(CelNode::Kind::kIndex, "[]", {*node, *index});
      } else {
        return node;
      }
    }
  }

  Result<std::vector<NodePtr>> ParseArgs() {
    std::vector<NodePtr> args;
    if (Accept(")")) return args;
    while (true) {
      auto a = ParseTernary();
      if (!a.ok()) return a.status();
      args.push_back(*a);
      if (Accept(")")) return args;
      WAOP_RETURN_IF_ERROR(Expect(","));
    }
  }

  Status CheckCall(const CelNode& call) const {
    static const std::map<std::string, size_t> kMethodArity = {
        {"size", 1},     {"matches", 2}, {"startsWith", 2}, {"endsWith", 2},
        {"contains", 2}, {"all", 3},     {"exists", 3}};
    static const std::map<std::string, size_t> kFunctionArity = {{"has", 1}, {"size", 1}};
    const auto& table = call.has_target ? kMethodArity : kFunctionArity;
    auto it = table.find(call.name);
    if (it == table.end()) return Error("unsupported function '" + call.name + "'");
    if (it->second != call.args.size()) {
      return Error("wrong number of arguments to '" + call.name + "'");
    }
    if (call.name == "has" && call.args[0]->kind != CelNode::Kind::kSelect) {
      return Error("has() needs a field selection such as has(self.x)");
    }
    if ((call.name == "all" || call.name == "exists") &&
        call.args[1]->kind != CelNode::Kind::kIdent) {
      return Error("the first argument of " + call.name + "() must be a variable name");
    }
    return Status::Ok();
  }

  Result<NodePtr> ParsePrimary() {
    const Token t = Peek();
    switch (t.type) {
      case Token::Type::kInt: {
        ++pos_;
        auto n = std::make_shared<CelNode>();
        n->literal = json(std::stoll(t.text));
        return NodePtr(n);
      }
      case Token::Type::kDouble: {
        ++pos_;
        auto n = std::make_shared<CelNode>();
        n->literal = json(std::stod(t.text));
        return NodePtr(n);
      }
      case Token::Type::kString: {
        ++pos_;
        auto n = std::make_shared<CelNode>();
        n->literal = json(t.text);
        return NodePtr(n);
      }
      case Token::Type::kIdent: {
        ++pos_;
        if (t.text == "true" || t.text == "false") {
          auto n = std::make_shared<CelNode>();
          n->literal = json(t.text == "true");
          return NodePtr(n);
        }
        if (t.text == "null") return NodePtr(std::make_shared<CelNode>());
        if (Accept("(")) {
          auto args = ParseArgs();
          if (!args.ok()) return args.status();
          auto call = std::make_shared<CelNode>(*Make(CelNode::Kind::kCall, t.text, *args));
          WAOP_RETURN_IF_ERROR(CheckCall(*call));
          return NodePtr(call);
        }
        if (t.text == "oldSelf") uses_old_self_ = true;
        return Make(CelNode::Kind::kIdent, t.text, {});
      }
      case Token::Type::kOp:
        if (Accept("(")) {
          auto inner = ParseTernary();
          if (!inner.ok()) return inner;
          WAOP_RETURN_IF_ERROR(Expect(")"));
          return inner;
        }
        if (Accept("[")) {
          std::vector<NodePtr> items;
          if (!Accept("]")) {
            while (true) {
              auto item = ParseTernary();
              if (!item.ok()) return item;
              items.push_back(*item);
              if (Accept("]")) break;
              WAOP_RETURN_IF_ERROR(Expect(","));
            }
          }
          return Make(CelNode::Kind::kList, "[]", items);
        }
        return Error("unexpected '" + t.text + "'");
      case Token::Type::kEnd:
        return Error("unexpected end of expression");
    }
    return Error("unexpected token");
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool uses_old_self_ = false;
};

// Variables in scope: self, oldSelf and comprehension variables.
using Env = std::map<std::string, const json*>;

// Number of Unicode code points (CEL size() of a string).
size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool Truthy(const json& v, bool* out) {
  if (!v.is_boolean()) return false;
  *out = v.get<bool>();
  return true;
}

Result<json> Eval(const CelNode& n, const Env& env);

Result<json> EvalCompare(const std::string& op, const json& a, const json& b) {
  if (op == "==") return json(a == b);
  if (op == "!=") return json(a != b);
  bool ok_types = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string());
  if (!ok_types) {
    return Status::InvalidArgument("no such overload: " + std::string(a.type_name()) + " " + op +
                                   " " + b.type_name());
  }
  if (op == "<") return json(a < b);
  if (op == "<=") return json(a <= b);
  if (op == ">") return json(a > b);
  return json(a >= b);
}

Result<json> EvalArith(const std::string& op, const json& a, const json& b) {
  if (op == "+" && a.is_string() && b.is_string()) {
    return json(a.get<std::string>() + b.get<std::string>());
  }
  if (op == "+" && a.is_array() && b.is_array()) {
    json out = a;
    for (const auto& x : b) out.push_back(x);
    return out;
  }
  if (!a.is_number() || !b.is_number()) {
    return Status::InvalidArgument("no such overload: " + std::string(a.type_name()) + " " + op +
                                   " " + b.type_name());
  }
  if (a.is_number_integer() && b.is_number_integer()) {
    int64_t x = a.get<int64_t>();
    int64_t y = b.get<int64_t>();
    if ((op == "/" || op == "%") && y == 0) return Status::InvalidArgument("division by zero");
    if (op == "+") return json(x + y);
    if (op == "-") return json(x - y);
    if (op == "*") return json(x * y);
    if (op == "/") return json(x / y);
    return json(x % y);
  }
  double x = a.get<double>();
  double y = b.get<double>();
  if (op == "+") return json(x + y);
  if (op == "-") return json(x - y);
  if (op == "*") return json(x * y);
  if (op == "/") return json(x / y);
  return json(std::fmod(x, y));
}

Result<json> EvalCall(const CelNode& n, const Env& env) {
  if (n.name == "has") {
    const CelNode& sel = *n.args[0];
    auto target = Eval(*sel.args[0], env);
    if (!target.ok()) return target;
    if (!target->is_object()) return Status::InvalidArgument("has() on a non-object");
    return json(target->contains(sel.name));
  }
  if (n.name == "all" || n.name == "exists") {
    auto target = Eval(*n.args[0], env);
    if (!target.ok()) return target;
    if (!target->is_array() && !target->is_object()) {
      return Status::InvalidArgument(n.name + "() on a " + target->type_name());
    }
    bool want_all = n.name == "all";
    std::vector<json> elements;
    if (target->is_array()) {
      elements.assign(target->begin(), target->end());
    } else {
      for (const auto& [k, v] : target->items()) elements.emplace_back(k);  // map: keys
    }
    for (const auto& e : elements) {
      Env inner = env;
      inner[n.args[1]->name] = &e;
      auto r = Eval(*n.args[2], inner);
      if (!r.ok()) return r;
      bool b = false;
      if (!Truthy(*r, &b)) return Status::InvalidArgument(n.name + "() predicate is not a bool");
      if (want_all && !b) return json(false);
      if (!want_all && b) return json(true);
    }
    return json(want_all);
  }
  std::vector<json> args;
  for (const auto& a : n.args) {
    auto v = Eval(*a, env);
    if (!v.ok()) return v;
    args.push_back(std::move(*v));
  }
  if (n.name == "size") {
    const json& x = args[0];
    if (x.is_string()) return json(static_cast<int64_t>(CodePoints(x.get<std::string>())));
    if (x.is_array() || x.is_object()) return json(static_cast<int64_t>(x.size()));
    return Status::InvalidArgument(std::string("no such overload: size(") + x.type_name() + ")");
  }
  if (!args[0].is_string() || !args[1].is_string()) {
    return Status::InvalidArgument("no such overload: " + n.name + " on non-strings");
  }
  const std::string s = args[0].get<std::string>();
  const std::string arg = args[1].get<std::string>();
  if (n.name == "startsWith") return json(s.rfind(arg, 0) == 0);
  if (n.name == "endsWith") {
    return json(s.size() >= arg.size() && s.compare(s.size() - arg.size(), arg.size(), arg) == 0);
  }
  if (n.name == "contains") return json(s.find(arg) != std::string::npos);
  // matches: RE2 semantics are "search" (unanchored), like regex_search.
  try {
    if (n.regex) return json(std::regex_search(s, *n.regex));
    return json(std::regex_search(s, std::regex(arg, std::regex::ECMAScript)));
  } catch (const std::regex_error& e) {
    return Status::InvalidArgument(std::string("invalid regular expression: ") + e.what());
  }
}

Result<json> Eval(const CelNode& n, const Env& env) {
  switch (n.kind) {
    case CelNode::Kind::kLiteral:
      return n.literal;
    case CelNode::Kind::kIdent: {
      auto it = env.find(n.name);
      if (it == env.end() || it->second == nullptr) {
        return Status::InvalidArgument("undeclared reference to '" + n.name + "'");
      }
      return *it->second;
    }
    case CelNode::Kind::kSelect: {
      auto target = Eval(*n.args[0], env);
      if (!target.ok()) return target;
      if (!target->is_object() || !target->contains(n.name)) {
        return Status::InvalidArgument("no such key: " + n.name);
      }
      return (*target)[n.name];
    }
    case CelNode::Kind::kIndex: {
      auto target = Eval(*n.args[0], env);
      if (!target.ok()) return target;
      auto index = Eval(*n.args[1], env);
      if (!index.ok()) return index;
      if (target->is_array() && index->is_number_integer()) {
        int64_t i = index->get<int64_t>();
        if (i < 0 || static_cast<size_t>(i) >= target->size()) {
          return Status::InvalidArgument("index out of range: " + std::to_string(i));
        }
        return (*target)[static_cast<size_t>(i)];
      }
      if (target->is_object() && index->is_string()) {
        auto it = target->find(index->get<std::string>());
        if (it == target->end()) {
          return Status::InvalidArgument("no such key: " + index->get<std::string>());
        }
        return *it;
      }
      return Status::InvalidArgument("invalid index");
    }
    case CelNode::Kind::kList: {
      json out = json::array();
      for (const auto& a : n.args) {
        auto v = Eval(*a, env);
        if (!v.ok()) return v;
        out.push_back(std::move(*v));
      }
      return out;
    }
    case CelNode::Kind::kCall:
      return EvalCall(n, env);
    case CelNode::Kind::kUnary: {
      auto x = Eval(*n.args[0], env);
      if (!x.ok()) return x;
      if (n.name == "!") {
        bool b = false;
        if (!Truthy(*x, &b))
          return Status::InvalidArgument("no such overload: !" + std::string(x->type_name()));
        return json(!b);
      }
      if (x->is_number_integer()) return json(-x->get<int64_t>());
      if (x->is_number()) return json(-x->get<double>());
      return Status::InvalidArgument("no such overload: -" + std::string(x->type_name()));
    }
    case CelNode::Kind::kTernary: {
      auto c = Eval(*n.args[0], env);
      if (!c.ok()) return c;
      bool b = false;
      if (!Truthy(*c, &b)) return Status::InvalidArgument("condition is not a bool");
      return Eval(*n.args[b ? 1 : 2], env);
    }
    case CelNode::Kind::kBinary: {
      const std::string& op = n.name;
      if (op == "&&" || op == "||") {
        // CEL's logical operators are commutative over errors: false && error is false.
        auto a = Eval(*n.args[0], env);
        auto b = Eval(*n.args[1], env);
        bool av = false;
        bool bv = false;
        bool a_ok = a.ok() && Truthy(*a, &av);
        bool b_ok = b.ok() && Truthy(*b, &bv);
        bool decisive = op == "||";  // true decides ||, false decides &&
        if (a_ok && av == decisive) return json(decisive);
        if (b_ok && bv == decisive) return json(decisive);
        if (!a_ok)
          return a.ok() ? Result<json>(Status::InvalidArgument("operand is not a bool")) : a;
        if (!b_ok)
          return b.ok() ? Result<json>(Status::InvalidArgument("operand is not a bool")) : b;
        return json(!decisive);
      }
      auto a = Eval(*n.args[0], env);
      if (!a.ok()) return a;
      auto b = Eval(*n.args[1], env);
      if (!b.ok()) return b;
      if (op == "in") {
        if (b->is_array()) {
          for (const auto& x : *b) {
            if (x == *a) return json(true);
          }
          return json(false);
        }
        if (b->is_object() && a->is_string()) return json(b->contains(a->get<std::string>()));
        return Status::InvalidArgument("no such overload: in");
      }
      if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") {
        return EvalCompare(op, *a, *b);
      }
      return EvalArith(op, *a, *b);
    }
  }
  return Status::Internal("unknown CEL node");
}

}  // namespace

Result<CelProgram> CelProgram::Parse(std::string_view expression) {
  auto tokens = Tokenize(expression);
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens));
  auto root = parser.ParseAll();
  if (!root.ok()) return root.status();
  CelProgram program;
  program.root_ = *root;
  program.uses_old_self_ = parser.uses_old_self();
  return program;
}

Result<bool> CelProgram::Evaluate(const json& self, const json* old_self) const {
  Env env{{"self", &self}};
  if (old_self != nullptr) env["oldSelf"] = old_self;
  auto v = Eval(*root_, env);
  if (!v.ok()) return v.status();
  bool b = false;
  if (!Truthy(*v, &b)) return Status::InvalidArgument("rule did not evaluate to a bool");
  return b;
}

}  // namespace devserver
