// rtnetlink by hand (see netlink.h for why). Every message is built into a std::string by
// offsets (no pointer is kept across an append), every answer is walked with NLMSG_OK/RTA_OK
// (which check each length against what is left of the datagram), and only answers carrying the
// kernel's port id (0) and our request's sequence number are taken: a stale answer of an earlier
// request (one abandoned on an error) is skipped, never mistaken for this one's.
#include "common/netlink.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <map>

namespace pocker {
namespace nl {
namespace {

constexpr size_t kReceiveBuffer = 64 * 1024;  // > the kernel's dump chunk (32 KiB at most)

// The family header of a message and the attributes after it, or false if it is too short.
template <typename T>
bool body(const nlmsghdr* h, T* out, const void** attrs, int* attrLen) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(T))) return false;
  std::memcpy(out, NLMSG_DATA(h), sizeof(T));
  *attrs = static_cast<const char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(T));
  *attrLen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(T))));
  return true;
}

bool parseLink(const nlmsghdr* h, Link* l) {
  ifinfomsg ifi;
  const void* at;
  int len;
  if (!body(h, &ifi, &at, &len)) return false;
  const rtattr* tb[IFLA_MAX + 1];
  parseAttrs(at, len, tb);
  l->index = ifi.ifi_index;
  l->up = (ifi.ifi_flags & IFF_UP) != 0;
  l->name = attrString(tb[IFLA_IFNAME]);
  l->mtu = attrU32(tb[IFLA_MTU]);
  l->masterIndex = static_cast<int>(attrU32(tb[IFLA_MASTER]));
  if (tb[IFLA_ADDRESS]) l->mac = formatMac(static_cast<const unsigned char*>(RTA_DATA(tb[IFLA_ADDRESS])), RTA_PAYLOAD(tb[IFLA_ADDRESS]));
  if (tb[IFLA_LINKINFO]) {
    const rtattr* info[IFLA_INFO_MAX + 1];
    parseAttrs(RTA_DATA(tb[IFLA_LINKINFO]), static_cast<int>(RTA_PAYLOAD(tb[IFLA_LINKINFO])), info);
    l->kind = attrString(info[IFLA_INFO_KIND]);
  }
  return true;
}

int randomMac(unsigned char mac[6]) {
  size_t got = 0;
  while (got < 6) {
    ssize_t n = getrandom(mac + got, 6 - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    got += static_cast<size_t>(n);
  }
  mac[0] = static_cast<unsigned char>((mac[0] & 0xfe) | 0x02);  // unicast, locally administered
  return 0;
}

}  // namespace

bool parseIp(const std::string& text, Cidr* out) {
  *out = Cidr{};
  if (inet_pton(AF_INET, text.c_str(), out->addr) == 1) {
    out->family = AF_INET;
    out->prefix = 32;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out->addr) == 1) {
    out->family = AF_INET6;
    out->prefix = 128;
    return true;
  }
  return false;
}

bool parseCidr(const std::string& text, Cidr* out) {
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash + 1 >= text.size() || text.size() - slash > 4) return false;
  if (!parseIp(text.substr(0, slash), out)) return false;
  int prefix = 0;
  for (size_t i = slash + 1; i < text.size(); i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    prefix = prefix * 10 + (text[i] - '0');
  }
  if (prefix > out->prefix) return false;
  out->prefix = prefix;
  return true;
}

bool parseMac(const std::string& text, unsigned char out[6]) {
  if (text.size() != 17) return false;
  for (int i = 0; i < 6; i++) {
    unsigned v = 0;
    for (int k = 0; k < 2; k++) {
      char c = text[static_cast<size_t>(i * 3 + k)];
      unsigned d = c >= '0' && c <= '9' ? static_cast<unsigned>(c - '0')
                   : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? static_cast<unsigned>(c - 'A' + 10)
                                          : 16u;
      if (d > 15) return false;
      v = v * 16 + d;
    }
    if (i < 5 && text[static_cast<size_t>(i * 3 + 2)] != ':') return false;
    out[i] = static_cast<unsigned char>(v);
  }
  return true;
}

std::string formatIp(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, addr, buf, sizeof buf);
  return buf;
}

std::string formatMac(const unsigned char* mac, size_t len) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < len; i++) {
    std::snprintf(b, sizeof b, i ? ":%02x" : "%02x", mac[i]);
    s += b;
  }
  return s;
}

int Socket::open() {
  fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd_) return errno;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;  // nl_pid 0: the kernel picks our port id
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int e = errno;
    fd_.reset();
    return e;
  }
  // Acks without a copy of the request (smaller answers); strict checking of dump requests where
  // the kernel has it (an old one ignores both: best effort).
  int one = 1;
  setsockopt(fd_.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  buf_.resize(kReceiveBuffer);
  return 0;
}

int Socket::send(std::string& msg, uint32_t* seq) {
  if (!fd_) return EBADF;
  if (msg.size() < NLMSG_HDRLEN) return EMSGSIZE;
  if (++seq_ == 0) seq_ = 1;
  *seq = seq_;
  std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_seq), seq, sizeof *seq);
  return sendToKernel(fd_.get(), msg);
}

ssize_t Socket::receive() { return receiveFromKernel(fd_.get(), buf_, 0); }

int sendToKernel(int fd, const std::string& msg) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) return static_cast<size_t>(n) == msg.size() ? 0 : EMSGSIZE;
    if (errno != EINTR) return errno;
  }
}

ssize_t receiveFromKernel(int fd, std::string& buf, int flags) {
  for (;;) {
    sockaddr_nl from{};
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &mh, flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (mh.msg_flags & MSG_TRUNC) {
      errno = EMSGSIZE;
      return -1;
    }
    if (from.nl_pid != 0) continue;  // not from the kernel
    return n;
  }
}

int Socket::request(std::string& msg, std::string* reply) {
  if (msg.size() < NLMSG_HDRLEN) return EMSGSIZE;
  uint16_t flags;
  std::memcpy(&flags, msg.data() + offsetof(nlmsghdr, nlmsg_flags), sizeof flags);
  flags |= NLM_F_ACK;
  std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_flags), &flags, sizeof flags);
  uint32_t seq;
  if (int e = send(msg, &seq)) return e;
  for (;;) {
    ssize_t got = receive();
    if (got < 0) return errno;
    int len = static_cast<int>(got);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf_.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;  // a stale answer
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
        nlmsgerr e;
        std::memcpy(&e, NLMSG_DATA(h), sizeof e);
        return -e.error;  // 0: the ack
      }
      if (reply && h->nlmsg_type != NLMSG_DONE && h->nlmsg_type != NLMSG_NOOP)
        reply->assign(reinterpret_cast<const char*>(h), h->nlmsg_len);
    }
  }
}

template <typename F>
int Socket::dump(uint16_t type, const void* hdr, size_t hdrLen, F each) {
  Msg m(type, NLM_F_DUMP);
  m.put(hdr, hdrLen);
  if (type == RTM_GETLINK) m.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  uint32_t seq;
  if (int e = send(m.finish(), &seq)) return e;
  bool interrupted = false;
  for (;;) {
    ssize_t got = receive();
    if (got < 0) return errno;
    int len = static_cast<int>(got);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf_.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (h->nlmsg_type == NLMSG_DONE) return interrupted ? EINTR : 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
        nlmsgerr e;
        std::memcpy(&e, NLMSG_DATA(h), sizeof e);
        return e.error ? -e.error : EPROTO;
      }
      each(h);
    }
  }
}

int Socket::createVeth(const std::string& host, const std::string& peer, int peerNsFd, uint32_t mtu,
                       const unsigned char* peerMac, int masterIndex) {
  Msg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  m.put(&ifi, sizeof ifi);
  m.str(IFLA_IFNAME, host);
  if (mtu) m.u32(IFLA_MTU, mtu);
  if (masterIndex > 0) m.u32(IFLA_MASTER, static_cast<uint32_t>(masterIndex));
  size_t info = m.nest(IFLA_LINKINFO);
  m.str(IFLA_INFO_KIND, "veth");
  size_t data = m.nest(IFLA_INFO_DATA);
  size_t p = m.nest(VETH_INFO_PEER);
  ifinfomsg pi{};
  pi.ifi_family = AF_UNSPEC;
  // (Not up here: veth_open refuses, ENOTCONN, while the host end is not registered yet.)
  m.put(&pi, sizeof pi);
  m.str(IFLA_IFNAME, peer);
  if (mtu) m.u32(IFLA_MTU, mtu);
  if (peerMac) m.attr(IFLA_ADDRESS, peerMac, 6);
  if (peerNsFd >= 0) m.u32(IFLA_NET_NS_FD, static_cast<uint32_t>(peerNsFd));
  m.end(p);
  m.end(data);
  m.end(info);
  return request(m.finish());
}

int Socket::createBridge(const std::string& name, uint32_t mtu) {
  unsigned char mac[6];
  if (int e = randomMac(mac)) return e;
  Msg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  m.put(&ifi, sizeof ifi);
  m.str(IFLA_IFNAME, name);
  if (mtu) m.u32(IFLA_MTU, mtu);
  m.attr(IFLA_ADDRESS, mac, sizeof mac);
  size_t info = m.nest(IFLA_LINKINFO);
  m.str(IFLA_INFO_KIND, "bridge");
  m.end(info);
  return request(m.finish());
}

int Socket::setLink(int index, const LinkChange& c) {
  Msg m(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  if (c.up) {
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
  }
  m.put(&ifi, sizeof ifi);
  if (c.mtu) m.u32(IFLA_MTU, c.mtu);
  if (c.mac) m.attr(IFLA_ADDRESS, c.mac, 6);
  if (c.master >= 0) m.u32(IFLA_MASTER, static_cast<uint32_t>(c.master));
  return request(m.finish());
}

int Socket::setLinkUp(const std::string& name) {
  Msg m(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  m.put(&ifi, sizeof ifi);
  m.str(IFLA_IFNAME, name);
  return request(m.finish());
}

int Socket::link(const std::string& name, Link* out, bool* found) {
  *found = false;
  Msg m(RTM_GETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  m.put(&ifi, sizeof ifi);
  m.str(IFLA_IFNAME, name);
  m.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::string reply;
  int e = request(m.finish(), &reply);
  if (e == ENODEV) return 0;
  if (e) return e;
  if (reply.size() < NLMSG_HDRLEN) return EPROTO;
  const auto* h = reinterpret_cast<const nlmsghdr*>(reply.data());
  if (h->nlmsg_type != RTM_NEWLINK || !parseLink(h, out)) return EPROTO;
  *found = true;
  return 0;
}

int Socket::linkIndex(const std::string& name, int* index) {
  Link l;
  bool found;
  *index = 0;
  if (int e = link(name, &l, &found)) return e;
  if (found) *index = l.index;
  return 0;
}

int Socket::deleteLink(const std::string& name) {
  Msg m(RTM_DELLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  m.put(&ifi, sizeof ifi);
  m.str(IFLA_IFNAME, name);
  return request(m.finish());
}

namespace {

Msg addressMsg(int index, const Cidr& c) {
  Msg m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<unsigned char>(c.family);
  ifa.ifa_prefixlen = static_cast<unsigned char>(c.prefix);
  ifa.ifa_flags = c.family == AF_INET6 ? IFA_F_NODAD : 0;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<uint32_t>(index);
  m.put(&ifa, sizeof ifa);
  m.attr(IFA_LOCAL, c.addr, c.size());
  m.attr(IFA_ADDRESS, c.addr, c.size());
  if (c.family == AF_INET && c.prefix < 31) {
    uint32_t a;
    std::memcpy(&a, c.addr, 4);
    uint32_t host = c.prefix == 0 ? 0xffffffffu : (0xffffffffu >> c.prefix);
    a |= htonl(host);
    m.attr(IFA_BROADCAST, &a, 4);
  }
  return m;
}

Msg linkUpMsg(int index) {
  Msg m(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  m.put(&ifi, sizeof ifi);
  return m;
}

Msg defaultRouteMsg(int index, const Cidr& gw) {
  Msg m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg r{};
  r.rtm_family = static_cast<unsigned char>(gw.family);
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = RT_SCOPE_UNIVERSE;
  r.rtm_type = RTN_UNICAST;
  m.put(&r, sizeof r);
  m.attr(RTA_GATEWAY, gw.addr, gw.size());
  m.u32(RTA_OIF, static_cast<uint32_t>(index));
  return m;
}

}  // namespace

int Socket::addAddress(int index, const Cidr& c) { return request(addressMsg(index, c).finish()); }

int Socket::addDefaultRoute(int index, const Cidr& gw) { return request(defaultRouteMsg(index, gw).finish()); }

int Socket::configure(int index, const std::vector<Cidr>& addrs, const std::vector<Cidr>& gateways, size_t* failed) {
  // One datagram of N requests (each with NLM_F_ACK and its own sequence number): the kernel runs
  // them in order (netlink_rcv_skb) and acks each. The first error stops our reading of the rest:
  // the kernel still ran the requests after it, which the caller's undo (delete the pair) covers.
  std::vector<std::string> msgs;
  for (const auto& a : addrs) msgs.push_back(addressMsg(index, a).finish());
  msgs.push_back(linkUpMsg(index).finish());
  for (const auto& g : gateways) msgs.push_back(defaultRouteMsg(index, g).finish());
  *failed = 0;
  std::string all;
  std::vector<uint32_t> seqs;
  for (auto& msg : msgs) {
    if (msg.size() < NLMSG_HDRLEN) return EMSGSIZE;
    uint16_t flags;
    std::memcpy(&flags, msg.data() + offsetof(nlmsghdr, nlmsg_flags), sizeof flags);
    flags |= NLM_F_ACK;
    std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_flags), &flags, sizeof flags);
    if (++seq_ == 0) seq_ = 1;
    std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_seq), &seq_, sizeof seq_);
    seqs.push_back(seq_);
    all += msg;  // each is NLMSG_ALIGNed already
  }
  if (!fd_) return EBADF;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_.get(), all.data(), all.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) {
      if (static_cast<size_t>(n) != all.size()) return EMSGSIZE;
      break;
    }
    if (errno != EINTR) return errno;
  }
  size_t acked = 0;
  while (acked < seqs.size()) {
    ssize_t got = receive();
    if (got < 0) return errno;
    int len = static_cast<int>(got);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf_.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      size_t k = 0;
      while (k < seqs.size() && seqs[k] != h->nlmsg_seq) k++;
      if (k == seqs.size()) continue;  // a stale answer
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
      nlmsgerr e;
      std::memcpy(&e, NLMSG_DATA(h), sizeof e);
      if (e.error) {
        *failed = k;
        return -e.error;
      }
      acked++;
    }
  }
  return 0;
}

template <typename T, typename F>
int Socket::dumpAll(uint16_t type, const void* hdr, size_t hdrLen, std::vector<T>* out, F each) {
  int e = EINTR;
  for (int attempt = 0; attempt < 5 && e == EINTR; attempt++) {
    out->clear();
    e = dump(type, hdr, hdrLen, each);
  }
  return e;
}

int Socket::linkNames(std::map<int, std::string>* names, const std::vector<Link>* known) {
  std::vector<Link> ls;
  if (!known) {
    if (int e = links(&ls)) return e;
    known = &ls;
  }
  for (const auto& l : *known) (*names)[l.index] = l.name;
  return 0;
}

int Socket::links(std::vector<Link>* out) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  int e = dumpAll(RTM_GETLINK, &ifi, sizeof ifi, out, [&](const nlmsghdr* h) {
    Link l;
    if (h->nlmsg_type == RTM_NEWLINK && parseLink(h, &l)) out->push_back(std::move(l));
  });
  if (e) return e;
  std::map<int, std::string> names;
  for (const auto& l : *out) names[l.index] = l.name;
  for (auto& l : *out)
    if (l.masterIndex > 0) l.master = names[l.masterIndex];
  return 0;
}

int Socket::addresses(std::vector<Address>* out, const std::vector<Link>* known) {
  std::map<int, std::string> names;
  if (int e = linkNames(&names, known)) return e;
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  return dumpAll(RTM_GETADDR, &ifa, sizeof ifa, out, [&](const nlmsghdr* h) {
    ifaddrmsg a;
    const void* at;
    int len;
    if (h->nlmsg_type != RTM_NEWADDR || !body(h, &a, &at, &len)) return;
    if (a.ifa_family != AF_INET && a.ifa_family != AF_INET6) return;
    const rtattr* tb[IFA_MAX + 1];
    parseAttrs(at, len, tb);
    const rtattr* addr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    size_t want = a.ifa_family == AF_INET ? 4 : 16;
    if (!addr || RTA_PAYLOAD(addr) < want) return;
    Address x;
    x.index = static_cast<int>(a.ifa_index);
    x.name = names[x.index];
    x.cidr = formatIp(a.ifa_family, RTA_DATA(addr)) + "/" + std::to_string(a.ifa_prefixlen);
    out->push_back(std::move(x));
  });
}

int Socket::routes(std::vector<Route>* out, const std::vector<Link>* known) {
  std::map<int, std::string> names;
  if (int e = linkNames(&names, known)) return e;
  rtmsg rm{};
  rm.rtm_family = AF_UNSPEC;
  return dumpAll(RTM_GETROUTE, &rm, sizeof rm, out, [&](const nlmsghdr* h) {
    rtmsg r;
    const void* at;
    int len;
    if (h->nlmsg_type != RTM_NEWROUTE || !body(h, &r, &at, &len)) return;
    if ((r.rtm_family != AF_INET && r.rtm_family != AF_INET6) || r.rtm_type != RTN_UNICAST || (r.rtm_flags & RTM_F_CLONED))
      return;
    const rtattr* tb[RTA_MAX + 1];
    parseAttrs(at, len, tb);
    uint32_t table = tb[RTA_TABLE] ? attrU32(tb[RTA_TABLE]) : r.rtm_table;
    if (table != RT_TABLE_MAIN) return;
    size_t want = r.rtm_family == AF_INET ? 4 : 16;
    unsigned char zero[16] = {};
    const void* dst = tb[RTA_DST] && RTA_PAYLOAD(tb[RTA_DST]) >= want ? RTA_DATA(tb[RTA_DST]) : zero;
    Route x;
    x.dst = formatIp(r.rtm_family, dst) + "/" + std::to_string(r.rtm_dst_len);
    if (tb[RTA_OIF]) x.dev = names[static_cast<int>(attrU32(tb[RTA_OIF]))];
    if (tb[RTA_GATEWAY] && RTA_PAYLOAD(tb[RTA_GATEWAY]) >= want) x.gateway = formatIp(r.rtm_family, RTA_DATA(tb[RTA_GATEWAY]));
    out->push_back(std::move(x));
  });
}

}  // namespace nl

Error netAttach(nl::Socket& host, nl::Socket& inner, int nsFd, const NetInterface& iface, void (*after)(const char*),
                bool replaceStale) {
  auto error = [](int err, const char* syscall, const std::string& path) { return Error{err, "network", syscall, path}; };
  // Everything is parsed before anything is created: bad input leaves nothing behind.
  unsigned char mac[6];
  const bool hasMac = !iface.mac.empty();
  if (hasMac && !nl::parseMac(iface.mac, mac)) return error(EINVAL, "parse-mac", iface.name + " " + iface.mac);
  std::vector<nl::Cidr> addrs(iface.addresses.size());
  for (size_t i = 0; i < addrs.size(); i++)
    if (!nl::parseCidr(iface.addresses[i], &addrs[i])) return error(EINVAL, "parse-address", iface.name + " " + iface.addresses[i]);
  nl::Cidr gw4, gw6;
  if (!iface.gateway.empty() && (!nl::parseIp(iface.gateway, &gw4) || gw4.family != AF_INET))
    return error(EINVAL, "parse-address", iface.name + " gateway " + iface.gateway);
  if (!iface.gateway6.empty() && (!nl::parseIp(iface.gateway6, &gw6) || gw6.family != AF_INET6))
    return error(EINVAL, "parse-address", iface.name + " gateway6 " + iface.gateway6);

  int bridge = 0;
  if (!iface.bridge.empty()) {
    if (int e = host.linkIndex(iface.bridge, &bridge)) return error(e, "RTM_GETLINK", iface.bridge);
    if (bridge == 0) return error(ENODEV, "RTM_GETLINK", iface.bridge);
  }
  int made = host.createVeth(iface.hostName, iface.name, nsFd, iface.mtu, hasMac ? mac : nullptr, bridge);
  if (made == EEXIST && replaceStale && host.deleteLink(iface.hostName) == 0)
    made = host.createVeth(iface.hostName, iface.name, nsFd, iface.mtu, hasMac ? mac : nullptr, bridge);
  if (made) return error(made, "RTM_NEWLINK", iface.hostName);
  // From here on a failure removes the pair (deleting one end deletes both).
  auto undo = [&](Error e) {
    host.deleteLink(iface.hostName);
    return e;
  };
  if (after) after("net-veth");
  int index = 0;
  if (int e = inner.linkIndex(iface.name, &index)) return undo(error(e, "RTM_GETLINK", iface.name));
  if (index == 0) return undo(error(ENODEV, "RTM_GETLINK", iface.name));
  // Its addresses, the link up, its default routes: one batch (one datagram, one ack each), not a
  // round trip apiece.
  std::vector<nl::Cidr> gateways;
  std::vector<std::string> gatewayText;
  if (gw4.family) {
    gateways.push_back(gw4);
    gatewayText.push_back(iface.gateway);
  }
  if (gw6.family) {
    gateways.push_back(gw6);
    gatewayText.push_back(iface.gateway6);
  }
  size_t failed = 0;
  if (int e = inner.configure(index, addrs, gateways, &failed)) {
    if (failed < addrs.size()) return undo(error(e, "RTM_NEWADDR", iface.name + " " + iface.addresses[failed]));
    if (failed == addrs.size()) return undo(error(e, "RTM_NEWLINK", iface.name));
    return undo(error(e, "RTM_NEWROUTE", iface.name + " via " + gatewayText[failed - addrs.size() - 1]));
  }
  // (Both fault points follow the batch: the addresses and routes are made together.)
  if (after) after("net-addr");
  if (after) after("net-route");
  return {};
}

}  // namespace pocker
