// rtnetlink (NETLINK_ROUTE) for container networking: veth pairs, bridges, addresses, routes.
// Shared by pocker-init (the monitor plumbs a container's interfaces between clone3 and its exec)
// and the addon (netBridge, netAttach, netLinks...).
//
// Written by hand rather than with libmnl/libnl: either would have to be linked statically into
// both pocker-init (a static, -fno-exceptions binary) and the addon, for the dozen messages below;
// the wire format is small and stable (rtnetlink(7)), and every buffer, sequence number and error
// is handled here in one place.
//
// A Socket talks to the network namespace it was opened in (netlink sockets are bound to the
// creator's netns at socket()): to act inside another namespace, open one after setns() into it
// (pocker-init, single-threaded) or on a thread of its own that never returns to the caller (the
// addon), then use it from anywhere.
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/util.h"

namespace pocker {

// One interface of a container: `pocker.network.interfaces[i]` of the spec (lib/spec/pocker.ts
// PockerInterface).
struct NetInterface {
  std::string name;      // inside the container: eth0, eth1...
  std::string hostName;  // the host end of the veth pair (<= 15 bytes)
  std::string bridge;    // the bridge the host end joins (exists)
  std::vector<std::string> addresses;  // CIDR, IPv4 and IPv6
  std::string gateway, gateway6;       // default routes via these ("" = none)
  std::string mac;                     // the container end's, "02:42:ac:12:00:05"
  uint32_t mtu = 0;                    // both ends (0 = the kernel's default)
};

namespace nl {

// Shared by the rtnetlink requests below and the addon's nf_tables batches (cpp/addon/nft.cpp).
// A request under construction: nlmsghdr, the family header, attributes (nests by offset).
class Msg {
 public:
  Msg(uint16_t type, uint16_t flags) : buf_(NLMSG_HDRLEN, '\0') {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    std::memcpy(buf_.data(), &h, sizeof h);
  }
  // Appends `len` bytes (zero-padded to the 4-byte alignment of netlink).
  void put(const void* data, size_t len) {
    size_t at = buf_.size();
    buf_.resize(at + NLMSG_ALIGN(len), '\0');
    if (len) std::memcpy(buf_.data() + at, data, len);
  }
  void attr(uint16_t type, const void* data, size_t len) {
    if (RTA_LENGTH(len) > 0xffff) {  // rta_len is 16 bits: refuse rather than wrap
      overflow_ = true;
      return;
    }
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    a.rta_type = type;
    size_t at = buf_.size();
    buf_.resize(at + RTA_SPACE(len), '\0');
    std::memcpy(buf_.data() + at, &a, sizeof a);
    if (len) std::memcpy(buf_.data() + at + RTA_LENGTH(0), data, len);
  }
  void u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  void str(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  size_t nest(uint16_t type) {
    size_t at = buf_.size();
    attr(type | NLA_F_NESTED, nullptr, 0);
    return at;
  }
  void end(size_t at) {
    if (buf_.size() - at > 0xffff) overflow_ = true;
    unsigned short len = static_cast<unsigned short>(buf_.size() - at);
    std::memcpy(buf_.data() + at + offsetof(rtattr, rta_len), &len, sizeof len);
  }
  // The message, or an empty string (EMSGSIZE at send) if an attribute did not fit.
  std::string& finish() {
    if (overflow_) buf_.clear();
    uint32_t len = static_cast<uint32_t>(buf_.size());
    if (!buf_.empty()) std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
    return buf_;
  }

 private:
  std::string buf_;
  bool overflow_ = false;
};

// The attributes following a family header, by type (NLA_F_* bits masked off); later ones win.
template <size_t N>
void parseAttrs(const void* start, int len, const rtattr* (&tb)[N]) {
  for (auto& t : tb) t = nullptr;
  for (auto* a = static_cast<const rtattr*>(start); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    unsigned type = a->rta_type & NLA_TYPE_MASK;
    if (type < N) tb[type] = a;
  }
}

inline std::string attrString(const rtattr* a) {
  if (!a) return {};
  const char* p = static_cast<const char*>(RTA_DATA(a));
  return std::string(p, strnlen(p, RTA_PAYLOAD(a)));
}

inline uint32_t attrU32(const rtattr* a) {
  uint32_t v = 0;
  if (a && RTA_PAYLOAD(a) >= sizeof v) std::memcpy(&v, RTA_DATA(a), sizeof v);
  return v;
}


// An IP address (IPv4 in the first 4 bytes) with its prefix length.
struct Cidr {
  int family = 0;  // AF_INET, AF_INET6
  unsigned char addr[16] = {};
  int prefix = 0;
  size_t size() const { return family == AF_INET ? 4 : 16; }
};

// "172.18.0.5/16", "fd00:1::5/64". A missing "/N" is refused (the spec always gives one).
bool parseCidr(const std::string& text, Cidr* out);
// "172.18.0.1", "fd00:1::1" (prefix = the full length).
bool parseIp(const std::string& text, Cidr* out);
// "02:42:ac:12:00:05"
bool parseMac(const std::string& text, unsigned char out[6]);
std::string formatIp(int family, const void* addr);
std::string formatMac(const unsigned char* mac, size_t len);

struct Link {
  std::string name, kind, master, mac;
  int index = 0, masterIndex = 0;
  uint32_t mtu = 0;
  bool up = false;
};
struct Address {
  std::string name;  // the link's name
  int index = 0;
  std::string cidr;
};
struct Route {
  std::string dst;  // CIDR, 0.0.0.0/0 or ::/0 for a default route
  std::string dev;  // "" for a multipath or a blackhole route
  std::string gateway;
};

// What setLink changes (unset fields are left as they are).
struct LinkChange {
  uint32_t mtu = 0;
  const unsigned char* mac = nullptr;  // 6 bytes
  int master = -1;                     // an index; 0 = no master
  bool up = false;
};

// One netlink datagram to the kernel (EINTR retried): 0, EMSGSIZE when it went short, or errno.
// Shared by the rtnetlink Socket below and the nf_tables batches (cpp/addon/nft.cpp).
int sendToKernel(int fd, const std::string& msg);
// One datagram from the kernel into buf (EINTR retried; datagrams from elsewhere skipped): its
// size, or -1 with errno (EMSGSIZE when truncated; EAGAIN under MSG_DONTWAIT when none is left).
ssize_t receiveFromKernel(int fd, std::string& buf, int flags);

// Every request returns 0 or a positive errno (the kernel's, from its NLMSG_ERROR ack, or the
// socket call's): callers turn it into an Error with the request's name (RTM_NEWLINK...).
class Socket {
 public:
  // socket(AF_NETLINK, NETLINK_ROUTE) + bind, in the calling thread's network namespace.
  int open();
  explicit operator bool() const { return static_cast<bool>(fd_); }

  // A veth pair: `host` here (MTU, enslaved to `masterIndex` if > 0, up), its peer `peer` created
  // directly in the namespace of `peerNsFd` (IFLA_NET_NS_FD) under its final name, with MTU and
  // MAC (down: configure() brings it up).
  int createVeth(const std::string& host, const std::string& peer, int peerNsFd, uint32_t mtu, const unsigned char* peerMac,
                 int masterIndex);
  // A bridge (kind "bridge"), down, with a random locally administered MAC (a bridge without one
  // takes its lowest port's, which changes as containers come and go: stale ARP caches).
  int createBridge(const std::string& name, uint32_t mtu);
  int setLink(int index, const LinkChange& change);
  int setLinkUp(const std::string& name);
  // EEXIST-free: 0 with *index = 0 when there is no such link.
  int linkIndex(const std::string& name, int* index);
  int link(const std::string& name, Link* out, bool* found);
  // ENODEV when absent.
  int deleteLink(const std::string& name);
  // IFA_F_NODAD for IPv6 (a container's address is unique by IPAM: no duplicate detection delay).
  int addAddress(int index, const Cidr& cidr);
  // A default route (0.0.0.0/0 or ::/0) via `gateway` out of `index`, in the main table.
  int addDefaultRoute(int index, const Cidr& gateway);
  // addAddress() for each of `addrs`, the link up, then addDefaultRoute() via each of `gateways`,
  // sent as one batch (one datagram; the kernel acks each request). On error, *failed is the index
  // of the failed request (the addresses, then the link up, then the gateways).
  int configure(int index, const std::vector<Cidr>& addrs, const std::vector<Cidr>& gateways, size_t* failed);

  int links(std::vector<Link>* out);
  // `known`, when given, is a links() answer of this socket to name the links by (no second dump).
  int addresses(std::vector<Address>* out, const std::vector<Link>* known = nullptr);
  // The main table's unicast routes, IPv4 and IPv6.
  int routes(std::vector<Route>* out, const std::vector<Link>* known = nullptr);

 private:
  // Sends one request (NLM_F_ACK added) and waits for its ack; `reply`, when given, gets the
  // payload of a non-error answer with the same sequence number (RTM_GETLINK by name).
  int request(std::string& msg, std::string* reply = nullptr);
  // Sends a NLM_F_DUMP request and calls `each(type, payload, len)` for every answer until NLMSG_DONE.
  template <typename F>
  int dump(uint16_t type, const void* body, size_t bodyLen, F each);
  // dump() into a vector, cleared and done again (at most 5 times) while the kernel marks the
  // answer inconsistent (NLM_F_DUMP_INTR: the table changed meanwhile).
  template <typename T, typename F>
  int dumpAll(uint16_t type, const void* body, size_t bodyLen, std::vector<T>* out, F each);
  int linkNames(std::map<int, std::string>* names, const std::vector<Link>* known);
  int send(std::string& msg, uint32_t* seq);
  // One datagram into buf_ (EINTR retried; a truncated one is EMSGSIZE).
  ssize_t receive();

  Fd fd_;
  uint32_t seq_ = 0;
  std::string buf_;
};

}  // namespace nl

// The whole plumbing of one container interface (the monitor's, and the addon's netAttach):
// the veth pair with its peer `iface.name` in the namespace of `nsFd`, the host end on
// `iface.bridge` and up, in one request; then, through `inner` (a socket opened in that
// namespace), the peer's index and, in one batch, its addresses, up, default routes: four round
// trips in all (the bridge's index, the pair, the peer's index, the batch). `after(point)`, when
// given, runs after the pair ("net-veth") and after the batch ("net-addr", then "net-route":
// pocker-init's fault points). On error the host end is deleted (the
// pair goes with it) and the Error has step "network", the request's name as syscall and the
// interface as path. With `replaceStale`, a host end of that name that exists already is deleted
// and the pair made again (the monitor's: the name is its container's own, left by an earlier run
// whose namespace the kernel has not finished tearing down).
Error netAttach(nl::Socket& host, nl::Socket& inner, int nsFd, const NetInterface& iface, void (*after)(const char*) = nullptr,
                bool replaceStale = false);

}  // namespace pocker
