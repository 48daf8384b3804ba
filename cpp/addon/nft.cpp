// pocker's nftables table (lib/network/nft.ts) through the kernel's nf_tables netlink interface
// (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_NFTABLES), in the caller's network namespace:
//   nftApply(table, commands): one batch (NFNL_MSG_BATCH_BEGIN ... END), applied atomically;
//   nftList(table): the table's rules (NFT_MSG_GETRULE dump): chain, handle, comment, expressions.
//
// Encoded by hand (see lib/network/nft.ts's head for why not libnftnl/libnftables). The encodings
// follow the uapi <linux/netfilter/nf_tables.h> and what `nft --debug=netlink` prints for the same
// rules, so `nft list table inet pocker` shows them as it shows its own:
//   meta iifname "br"        meta load iifname => reg 1; cmp eq/neq reg 1 <name, NUL-padded to 16>
//   ip saddr 10.0.0.0/24     meta load nfproto; cmp eq 2; payload load 3b @ network + 12; cmp eq
//   ip saddr 10.0.0.0/20     ...; payload load 4b @ network + 12; bitwise (& mask) ^ 0; cmp eq
//   ct status dnat           ct load status; bitwise (& IPS_DST_NAT) ^ 0; cmp neq 0
//   fib daddr type local     fib daddr type => reg 1; cmp eq RTN_LOCAL
//   meta nfproto ipv4        meta load nfproto; cmp eq 2 (1 byte)
//   tcp dport 80             meta load l4proto; cmp eq 6; payload load 2b @ transport + 2; cmp eq
//   dnat ip to A:P           immediate reg 1 A; immediate reg 2 P; nat dnat ip addr_min reg 1 proto_min reg 2
//   masquerade / accept / drop   masq / immediate reg 0 <verdict>
//   comment "…"              NFTA_RULE_USERDATA: TLV {type 0 = NFTNL_UDATA_RULE_COMMENT, len, "…\0"}
// Every attribute of nf_tables is big-endian (NLA_U32 as be32, the handle as be64); register data
// is what the packet holds (network order) except meta/ct/fib results, which are host order.
//
// Acks: only the batch's last message asks for one (NLM_F_ACK); the kernel reports an error for
// any message that fails whatever its flags. nfnetlink handles the whole batch inside sendmsg(),
// so every answer is queued when it returns: they are read without waiting (MSG_DONTWAIT) and the
// batch succeeded only if no message failed and the last one was acked.
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "addon/addon.h"
#include "common/netlink.h"
#include "common/util.h"

namespace pocker {
namespace {

constexpr const char* kStep = "network";
constexpr size_t kReceiveBuffer = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// What JS asks for (validated again here: a bad value is a TypeError, nothing is sent)

enum class Kind { IifName, OifName, Saddr, Daddr, CtDnat, FibLocal, NfProto, Dport, Accept, Drop, Masquerade, Dnat };

struct Expr {
  Kind kind;
  bool neq = false;
  std::string name;  // iifname/oifname
  nl::Cidr cidr;     // saddr/daddr (a prefix), dnat (an address), nfproto (family only)
  uint8_t l4 = 0;    // dport: IPPROTO_TCP / IPPROTO_UDP
  uint16_t port = 0;
};

enum class Op { Table, Chain, Rule, Delete };

struct Command {
  Op op;
  std::string chain, type;  // chain: name; type "nat"/"filter"
  uint32_t hook = 0;
  int32_t prio = 0;
  bool insert = false;
  std::string comment;
  std::vector<Expr> expr;
  uint64_t handle = 0;
};

bool getString(const Napi::Object& o, const char* key, std::string* out, size_t max) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) return false;
  *out = v.As<Napi::String>().Utf8Value();
  return !out->empty() && out->size() <= max && out->find('\0') == std::string::npos;
}

bool getInt(const Napi::Object& o, const char* key, double lo, double hi, double* out) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  *out = d;
  return true;
}

bool parseExpr(const Napi::Value& v, Expr* e) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  std::string kind;
  if (!getString(o, "kind", &kind, 32)) return false;
  Napi::Value neq = o.Get("neq");
  e->neq = neq.IsBoolean() && neq.As<Napi::Boolean>().Value();
  double d;
  if (kind == "iifname" || kind == "oifname") {
    e->kind = kind == "iifname" ? Kind::IifName : Kind::OifName;
    return getString(o, "name", &e->name, IFNAMSIZ - 1);
  }
  if (kind == "saddr" || kind == "daddr") {
    e->kind = kind == "saddr" ? Kind::Saddr : Kind::Daddr;
    std::string c;
    return getString(o, "cidr", &c, 64) && nl::parseCidr(c, &e->cidr) && e->cidr.prefix > 0;
  }
  if (kind == "ctDnat") return e->kind = Kind::CtDnat, true;
  if (kind == "fibLocal") return e->kind = Kind::FibLocal, true;
  if (kind == "accept") return e->kind = Kind::Accept, true;
  if (kind == "drop") return e->kind = Kind::Drop, true;
  if (kind == "masquerade") return e->kind = Kind::Masquerade, true;
  if (kind == "nfproto") {
    e->kind = Kind::NfProto;
    std::string f;
    if (!getString(o, "family", &f, 8) || (f != "ipv4" && f != "ipv6")) return false;
    e->cidr.family = f == "ipv4" ? AF_INET : AF_INET6;
    return true;
  }
  if (kind == "dport") {
    e->kind = Kind::Dport;
    std::string p;
    if (!getString(o, "protocol", &p, 8) || (p != "tcp" && p != "udp") || !getInt(o, "port", 1, 65535, &d)) return false;
    e->l4 = p == "tcp" ? IPPROTO_TCP : IPPROTO_UDP;
    e->port = static_cast<uint16_t>(d);
    return true;
  }
  if (kind == "dnat") {
    e->kind = Kind::Dnat;
    std::string a;
    if (!getString(o, "addr", &a, 64) || !nl::parseIp(a, &e->cidr) || !getInt(o, "port", 1, 65535, &d)) return false;
    e->port = static_cast<uint16_t>(d);
    return true;
  }
  return false;
}

bool parseCommand(const Napi::Value& v, Command* c) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  std::string op;
  if (!getString(o, "op", &op, 16)) return false;
  double d;
  if (op == "table") return c->op = Op::Table, true;
  if (op == "chain") {
    c->op = Op::Chain;
    std::string hook;
    if (!getString(o, "name", &c->chain, NFT_CHAIN_MAXNAMELEN - 1) || !getString(o, "type", &c->type, 16) ||
        (c->type != "nat" && c->type != "filter") || !getString(o, "hook", &hook, 16) || !getInt(o, "prio", -1000, 1000, &d))
      return false;
    c->prio = static_cast<int32_t>(d);
    if (hook == "prerouting") c->hook = NF_INET_PRE_ROUTING;
    else if (hook == "input") c->hook = NF_INET_LOCAL_IN;
    else if (hook == "forward") c->hook = NF_INET_FORWARD;
    else if (hook == "output") c->hook = NF_INET_LOCAL_OUT;
    else if (hook == "postrouting") c->hook = NF_INET_POST_ROUTING;
    else return false;
    return true;
  }
  if (op == "rule") {
    c->op = Op::Rule;
    Napi::Value ins = o.Get("insert"), ex = o.Get("expr");
    c->insert = ins.IsBoolean() && ins.As<Napi::Boolean>().Value();
    // The TLV's length is one byte and counts the NUL.
    if (!getString(o, "chain", &c->chain, NFT_CHAIN_MAXNAMELEN - 1) || !getString(o, "comment", &c->comment, 254) || !ex.IsArray())
      return false;
    Napi::Array a = ex.As<Napi::Array>();
    if (a.Length() == 0 || a.Length() > 32) return false;
    c->expr.resize(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++)
      if (!parseExpr(a.Get(i), &c->expr[i])) return false;
    return true;
  }
  if (op == "delete") {
    c->op = Op::Delete;
    if (!getString(o, "chain", &c->chain, NFT_CHAIN_MAXNAMELEN - 1) || !getInt(o, "handle", 1, 9007199254740991.0, &d)) return false;
    c->handle = static_cast<uint64_t>(d);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Encoding

uint16_t msgType(uint8_t msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

void genHeader(nl::Msg& m, uint8_t family, uint16_t resId) {
  nfgenmsg g{};
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  g.res_id = htons(resId);
  m.put(&g, sizeof g);
}

void be32(nl::Msg& m, uint16_t type, uint32_t v) { m.u32(type, htonl(v)); }

void be64(nl::Msg& m, uint16_t type, uint64_t v) {
  uint64_t b = (static_cast<uint64_t>(htonl(static_cast<uint32_t>(v))) << 32) | htonl(static_cast<uint32_t>(v >> 32));
  m.attr(type, &b, sizeof b);
}

// NFTA_*_DATA / _MASK / _XOR: a nest holding NFTA_DATA_VALUE.
void dataValue(nl::Msg& m, uint16_t type, const void* bytes, size_t len) {
  size_t n = m.nest(type);
  m.attr(NFTA_DATA_VALUE, bytes, len);
  m.end(n);
}

// One expression of NFTA_RULE_EXPRESSIONS: {NFTA_EXPR_NAME, NFTA_EXPR_DATA {...}}.
template <typename F>
void expr(nl::Msg& m, const char* name, F body) {
  size_t elem = m.nest(NFTA_LIST_ELEM);
  m.str(NFTA_EXPR_NAME, name);
  size_t data = m.nest(NFTA_EXPR_DATA);
  body();
  m.end(data);
  m.end(elem);
}

void metaLoad(nl::Msg& m, uint32_t key) {
  expr(m, "meta", [&] {
    be32(m, NFTA_META_DREG, NFT_REG_1);
    be32(m, NFTA_META_KEY, key);
  });
}

void cmp(nl::Msg& m, uint32_t op, const void* bytes, size_t len) {
  expr(m, "cmp", [&] {
    be32(m, NFTA_CMP_SREG, NFT_REG_1);
    be32(m, NFTA_CMP_OP, op);
    dataValue(m, NFTA_CMP_DATA, bytes, len);
  });
}

void payloadLoad(nl::Msg& m, uint32_t base, uint32_t offset, uint32_t len) {
  expr(m, "payload", [&] {
    be32(m, NFTA_PAYLOAD_DREG, NFT_REG_1);
    be32(m, NFTA_PAYLOAD_BASE, base);
    be32(m, NFTA_PAYLOAD_OFFSET, offset);
    be32(m, NFTA_PAYLOAD_LEN, len);
  });
}

// reg 1 = (reg 1 & mask) ^ 0
void bitwiseAnd(nl::Msg& m, const void* mask, size_t len) {
  const unsigned char zero[16] = {};
  expr(m, "bitwise", [&] {
    be32(m, NFTA_BITWISE_SREG, NFT_REG_1);
    be32(m, NFTA_BITWISE_DREG, NFT_REG_1);
    be32(m, NFTA_BITWISE_LEN, static_cast<uint32_t>(len));
    dataValue(m, NFTA_BITWISE_MASK, mask, len);
    dataValue(m, NFTA_BITWISE_XOR, zero, len);
  });
}

void nfprotoIs(nl::Msg& m, int family) {
  metaLoad(m, NFT_META_NFPROTO);
  uint8_t p = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
  cmp(m, NFT_CMP_EQ, &p, 1);
}

void verdict(nl::Msg& m, int code) {
  expr(m, "immediate", [&] {
    be32(m, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
    size_t d = m.nest(NFTA_IMMEDIATE_DATA);
    size_t v = m.nest(NFTA_DATA_VERDICT);
    be32(m, NFTA_VERDICT_CODE, static_cast<uint32_t>(code));
    m.end(v);
    m.end(d);
  });
}

void immediate(nl::Msg& m, uint32_t reg, const void* bytes, size_t len) {
  expr(m, "immediate", [&] {
    be32(m, NFTA_IMMEDIATE_DREG, reg);
    dataValue(m, NFTA_IMMEDIATE_DATA, bytes, len);
  });
}

void encodeExpr(nl::Msg& m, const Expr& e) {
  switch (e.kind) {
    case Kind::IifName:
    case Kind::OifName: {
      char name[IFNAMSIZ] = {};
      std::memcpy(name, e.name.data(), e.name.size());
      metaLoad(m, e.kind == Kind::IifName ? NFT_META_IIFNAME : NFT_META_OIFNAME);
      cmp(m, e.neq ? NFT_CMP_NEQ : NFT_CMP_EQ, name, sizeof name);
      return;
    }
    case Kind::Saddr:
    case Kind::Daddr: {
      bool v4 = e.cidr.family == AF_INET;
      size_t size = e.cidr.size();
      uint32_t offset = v4 ? (e.kind == Kind::Saddr ? 12 : 16) : (e.kind == Kind::Saddr ? 8 : 24);
      nfprotoIs(m, e.cidr.family);
      unsigned char value[16] = {}, mask[16] = {};
      for (int bit = 0; bit < e.cidr.prefix; bit++) mask[bit / 8] |= static_cast<unsigned char>(0x80 >> (bit % 8));
      for (size_t i = 0; i < size; i++) value[i] = e.cidr.addr[i] & mask[i];
      if (e.cidr.prefix % 8 == 0) {
        // A whole number of bytes: load just those (nft's own form).
        size_t len = static_cast<size_t>(e.cidr.prefix / 8);
        payloadLoad(m, NFT_PAYLOAD_NETWORK_HEADER, offset, static_cast<uint32_t>(len));
        cmp(m, NFT_CMP_EQ, value, len);
      } else {
        payloadLoad(m, NFT_PAYLOAD_NETWORK_HEADER, offset, static_cast<uint32_t>(size));
        bitwiseAnd(m, mask, size);
        cmp(m, NFT_CMP_EQ, value, size);
      }
      return;
    }
    case Kind::CtDnat: {
      expr(m, "ct", [&] {
        be32(m, NFTA_CT_DREG, NFT_REG_1);
        be32(m, NFTA_CT_KEY, NFT_CT_STATUS);
      });
      uint32_t mask = IPS_DST_NAT, zero = 0;  // host order, as the kernel keeps ct->status
      bitwiseAnd(m, &mask, sizeof mask);
      cmp(m, NFT_CMP_NEQ, &zero, sizeof zero);
      return;
    }
    case Kind::FibLocal: {
      expr(m, "fib", [&] {
        be32(m, NFTA_FIB_DREG, NFT_REG_1);
        be32(m, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        be32(m, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
      });
      uint32_t local = RTN_LOCAL;
      cmp(m, NFT_CMP_EQ, &local, sizeof local);
      return;
    }
    case Kind::NfProto:
      nfprotoIs(m, e.cidr.family);
      return;
    case Kind::Dport: {
      metaLoad(m, NFT_META_L4PROTO);
      cmp(m, NFT_CMP_EQ, &e.l4, 1);
      uint16_t port = htons(e.port);
      payloadLoad(m, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
      cmp(m, NFT_CMP_EQ, &port, sizeof port);
      return;
    }
    case Kind::Accept:
      verdict(m, NF_ACCEPT);
      return;
    case Kind::Drop:
      verdict(m, NF_DROP);
      return;
    case Kind::Masquerade:
      expr(m, "masq", [] {});
      return;
    case Kind::Dnat: {
      uint16_t port = htons(e.port);
      immediate(m, NFT_REG_1, e.cidr.addr, e.cidr.size());
      immediate(m, NFT_REG_2, &port, sizeof port);
      expr(m, "nat", [&] {
        be32(m, NFTA_NAT_TYPE, NFT_NAT_DNAT);
        be32(m, NFTA_NAT_FAMILY, e.cidr.family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
        be32(m, NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
        be32(m, NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
        be32(m, NFTA_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
      });
      return;
    }
  }
}

const char* requestName(Op op) {
  switch (op) {
    case Op::Table:
      return "NFT_MSG_NEWTABLE";
    case Op::Chain:
      return "NFT_MSG_NEWCHAIN";
    case Op::Rule:
      return "NFT_MSG_NEWRULE";
    case Op::Delete:
      return "NFT_MSG_DELRULE";
  }
  return "";
}

std::string encode(const std::string& table, const Command& c, bool ack) {
  uint16_t ackFlag = ack ? NLM_F_ACK : 0;
  switch (c.op) {
    case Op::Table: {
      nl::Msg m(msgType(NFT_MSG_NEWTABLE), NLM_F_CREATE | ackFlag);
      genHeader(m, NFPROTO_INET, 0);
      m.str(NFTA_TABLE_NAME, table);
      be32(m, NFTA_TABLE_FLAGS, 0);
      return m.finish();
    }
    case Op::Chain: {
      nl::Msg m(msgType(NFT_MSG_NEWCHAIN), NLM_F_CREATE | ackFlag);
      genHeader(m, NFPROTO_INET, 0);
      m.str(NFTA_CHAIN_TABLE, table);
      m.str(NFTA_CHAIN_NAME, c.chain);
      size_t h = m.nest(NFTA_CHAIN_HOOK);
      be32(m, NFTA_HOOK_HOOKNUM, c.hook);
      be32(m, NFTA_HOOK_PRIORITY, static_cast<uint32_t>(c.prio));
      m.end(h);
      be32(m, NFTA_CHAIN_POLICY, NF_ACCEPT);
      m.str(NFTA_CHAIN_TYPE, c.type);
      return m.finish();
    }
    case Op::Rule: {
      // Appended (NLM_F_APPEND), or inserted at the chain's head.
      nl::Msg m(msgType(NFT_MSG_NEWRULE), static_cast<uint16_t>(NLM_F_CREATE | (c.insert ? 0 : NLM_F_APPEND) | ackFlag));
      genHeader(m, NFPROTO_INET, 0);
      m.str(NFTA_RULE_TABLE, table);
      m.str(NFTA_RULE_CHAIN, c.chain);
      size_t list = m.nest(NFTA_RULE_EXPRESSIONS);
      for (const Expr& e : c.expr) encodeExpr(m, e);
      m.end(list);
      std::string udata;
      udata += static_cast<char>(0);  // NFTNL_UDATA_RULE_COMMENT
      udata += static_cast<char>(c.comment.size() + 1);
      udata += c.comment;
      udata += '\0';
      m.attr(NFTA_RULE_USERDATA, udata.data(), udata.size());
      return m.finish();
    }
    case Op::Delete: {
      nl::Msg m(msgType(NFT_MSG_DELRULE), ackFlag);
      genHeader(m, NFPROTO_INET, 0);
      m.str(NFTA_RULE_TABLE, table);
      m.str(NFTA_RULE_CHAIN, c.chain);
      be64(m, NFTA_RULE_HANDLE, c.handle);
      return m.finish();
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// The socket

struct Failure {
  int err = 0;
  const char* syscall = "";
  int index = -1;  // the command that failed; -1 for the batch itself
};

int openSocket(Fd* fd, size_t sendSize) {
  fd->reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!*fd) return errno;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return errno;
  int one = 1;
  setsockopt(fd->get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);  // acks without the request
  if (sendSize > 128 * 1024) {
    // A batch is one datagram, which may not exceed the send buffer (best effort: root may force it).
    int size = static_cast<int>(sendSize * 2);
    if (setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  return 0;
}

void setSeq(std::string& msg, uint32_t seq) { std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof seq); }

// The first sequence number of a call's messages: distinct per call (each call has its own socket
// anyway), atomic as worker threads may load the addon too.
uint32_t firstSeq() {
  static std::atomic<uint32_t> next{1};
  return next.fetch_add(1u << 16);
}

Failure applyBatch(const std::string& table, const std::vector<Command>& cmds) {
  std::string batch;
  uint32_t seq0 = firstSeq();
  {
    nl::Msg begin(NFNL_MSG_BATCH_BEGIN, 0);
    genHeader(begin, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    std::string& b = begin.finish();
    setSeq(b, seq0);
    batch += b;
  }
  for (size_t i = 0; i < cmds.size(); i++) {
    std::string msg = encode(table, cmds[i], i + 1 == cmds.size());
    if (msg.empty()) return {EMSGSIZE, "sendmsg", static_cast<int>(i)};
    setSeq(msg, seq0 + 1 + static_cast<uint32_t>(i));
    batch += msg;
  }
  {
    nl::Msg end(NFNL_MSG_BATCH_END, 0);
    genHeader(end, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    std::string& e = end.finish();
    setSeq(e, seq0 + 1 + static_cast<uint32_t>(cmds.size()));
    batch += e;
  }
  Fd fd;
  if (int e = openSocket(&fd, batch.size())) return {e, "socket", -1};
  if (int e = nl::sendToKernel(fd.get(), batch)) return {e, "sendmsg", -1};
  std::string buf(kReceiveBuffer, '\0');
  Failure first;
  bool acked = false;
  uint32_t last = seq0 + static_cast<uint32_t>(cmds.size());
  for (;;) {
    ssize_t got = nl::receiveFromKernel(fd.get(), buf, MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (!first.err) first = {errno, "recvmsg", -1};
      break;
    }
    int len = static_cast<int>(got);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      if (h->nlmsg_seq < seq0 || h->nlmsg_seq > last + 1) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        if (!first.err) first = {EPROTO, "recvmsg", -1};
        continue;
      }
      nlmsgerr e;
      std::memcpy(&e, NLMSG_DATA(h), sizeof e);
      int index = h->nlmsg_seq == seq0 || h->nlmsg_seq == last + 1 ? -1 : static_cast<int>(h->nlmsg_seq - seq0 - 1);
      if (e.error == 0) {
        if (h->nlmsg_seq == last) acked = true;
        continue;
      }
      // The earliest failing message is the cause (later ones may only follow from it).
      if (!first.err || index < first.index) first = {-e.error, "recvmsg", index};
    }
  }
  if (first.err) return first;
  if (!acked) return {EPROTO, "recvmsg", -1};
  return {};
}

// ---------------------------------------------------------------------------------------------
// Listing

struct Rule {
  std::string chain, comment;
  uint64_t handle = 0;
  std::vector<std::string> expr;
};

uint64_t attrBe64(const rtattr* a) {
  uint64_t v = 0;
  if (a && RTA_PAYLOAD(a) >= sizeof v) std::memcpy(&v, RTA_DATA(a), sizeof v);
  return (static_cast<uint64_t>(ntohl(static_cast<uint32_t>(v))) << 32) | ntohl(static_cast<uint32_t>(v >> 32));
}

// The comment TLV of a rule's userdata (type 0), "" when there is none.
std::string commentOf(const rtattr* a) {
  if (!a) return {};
  const auto* p = static_cast<const unsigned char*>(RTA_DATA(a));
  size_t n = RTA_PAYLOAD(a);
  for (size_t i = 0; i + 2 <= n;) {
    size_t type = p[i], len = p[i + 1];
    if (i + 2 + len > n) break;
    if (type == 0) {
      const char* s = reinterpret_cast<const char*>(p + i + 2);
      return std::string(s, strnlen(s, len));
    }
    i += 2 + len;
  }
  return {};
}

bool parseRule(const nlmsghdr* h, const std::string& table, Rule* r) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) return false;
  const void* at = static_cast<const char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(nfgenmsg));
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(nfgenmsg))));
  const rtattr* tb[NFTA_RULE_MAX + 1];
  nl::parseAttrs(at, len, tb);
  if (nl::attrString(tb[NFTA_RULE_TABLE]) != table) return false;
  r->chain = nl::attrString(tb[NFTA_RULE_CHAIN]);
  r->handle = attrBe64(tb[NFTA_RULE_HANDLE]);
  r->comment = commentOf(tb[NFTA_RULE_USERDATA]);
  if (const rtattr* list = tb[NFTA_RULE_EXPRESSIONS]) {
    int rem = static_cast<int>(RTA_PAYLOAD(list));
    for (auto* a = static_cast<const rtattr*>(RTA_DATA(list)); RTA_OK(a, rem); a = RTA_NEXT(a, rem)) {
      const rtattr* ex[NFTA_EXPR_MAX + 1];
      nl::parseAttrs(RTA_DATA(a), static_cast<int>(RTA_PAYLOAD(a)), ex);
      r->expr.push_back(nl::attrString(ex[NFTA_EXPR_NAME]));
    }
  }
  return true;
}

// The rules of `table` (inet); none when there is no such table. *syscall names what failed.
int listRules(const std::string& table, std::vector<Rule>* out, const char** syscall) {
  for (int attempt = 0;; attempt++) {
    out->clear();
    Fd fd;
    *syscall = "socket";
    if (int e = openSocket(&fd, 0)) return e;
    nl::Msg m(msgType(NFT_MSG_GETRULE), NLM_F_DUMP);
    genHeader(m, NFPROTO_INET, 0);
    m.str(NFTA_RULE_TABLE, table);  // the kernel filters the dump by table (and we again)
    std::string& msg = m.finish();
    uint32_t seq = firstSeq();
    setSeq(msg, seq);
    *syscall = "sendmsg";
    if (int e = nl::sendToKernel(fd.get(), msg)) return e;
    *syscall = "recvmsg";
    std::string buf(kReceiveBuffer, '\0');
    bool interrupted = false, done = false;
    while (!done) {
      ssize_t got = nl::receiveFromKernel(fd.get(), buf, 0);
      if (got < 0) return errno;
      int len = static_cast<int>(got);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != seq) continue;
        if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR) {
          if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
          nlmsgerr e;
          std::memcpy(&e, NLMSG_DATA(h), sizeof e);
          if (e.error == -ENOENT) return 0;  // no such table
          return e.error ? -e.error : EPROTO;
        }
        if (h->nlmsg_type != msgType(NFT_MSG_NEWRULE)) continue;
        Rule r;
        if (parseRule(h, table, &r)) out->push_back(std::move(r));
      }
    }
    // The rule set changed during the dump: again (a few times).
    if (!interrupted || attempt >= 4) return interrupted ? EINTR : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// N-API

bool tableArg(const Napi::Value& v, std::string* out) {
  if (!v.IsString()) return false;
  *out = v.As<Napi::String>().Utf8Value();
  return !out->empty() && out->size() < NFT_TABLE_MAXNAMELEN && out->find('\0') == std::string::npos;
}

// nftApply(table, commands): one atomic batch. Throws a SystemError-shaped error with `index`
// (the failed command, -1 for the batch) and `request` (NFT_MSG_*).
Napi::Value NftApply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "nftApply(table: string, commands: NftCommand[])";
  std::string table;
  if (info.Length() < 2 || !tableArg(info[0], &table) || !info[1].IsArray()) return throwTypeError(env, usage);
  Napi::Array a = info[1].As<Napi::Array>();
  std::vector<Command> cmds(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++)
    if (!parseCommand(a.Get(i), &cmds[i])) return throwTypeError(env, "nftApply: invalid command");
  if (cmds.empty()) return env.Undefined();
  Failure f = applyBatch(table, cmds);
  if (!f.err) return env.Undefined();
  Napi::Object e = makeSystemError(env, f.err, f.syscall, "", kStep);
  e.Set("index", f.index);
  // What the kernel refused (none when the socket could not even be made).
  if (std::strcmp(f.syscall, "socket") != 0)
    e.Set("request", f.index >= 0 ? requestName(cmds[static_cast<size_t>(f.index)].op) : "NFNL_MSG_BATCH");
  Napi::Error(env, e).ThrowAsJavaScriptException();
  return env.Undefined();
}

// nftList(table): {chain, handle, comment, expr: string[]}[] of the inet table (none without it).
Napi::Value NftList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string table;
  if (info.Length() < 1 || !tableArg(info[0], &table)) return throwTypeError(env, "nftList(table: string)");
  std::vector<Rule> rules;
  const char* syscall = "";
  if (int e = listRules(table, &rules, &syscall)) return throwSystemError(env, e, syscall, "", kStep);
  Napi::Array out = Napi::Array::New(env, rules.size());
  for (size_t i = 0; i < rules.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("chain", rules[i].chain);
    o.Set("handle", static_cast<double>(rules[i].handle));
    o.Set("comment", rules[i].comment);
    Napi::Array ex = Napi::Array::New(env, rules[i].expr.size());
    for (size_t k = 0; k < rules[i].expr.size(); k++) ex.Set(static_cast<uint32_t>(k), rules[i].expr[k]);
    o.Set("expr", ex);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace

void initNft(Napi::Env env, Napi::Object exports) {
  exports.Set("nftApply", Napi::Function::New(env, NftApply, "nftApply"));
  exports.Set("nftList", Napi::Function::New(env, NftList, "nftList"));
}

}  // namespace pocker
