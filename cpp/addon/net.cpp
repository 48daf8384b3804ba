// Container networking calls of the addon (rtnetlink through cpp/common/netlink.h): links,
// bridges, addresses and routes of the caller's network namespace, and netAttach/netDetach inside
// a running container's (`network connect`/`disconnect`).
//
// The Node main thread never changes its own network namespace: a netlink socket is bound to the
// namespace of the thread that creates it, so for a container's namespace a short-lived thread of
// our own does setns() + socket() and ends (its namespace dies with it); the socket is then used
// from the calling thread like any other. Nothing else runs on that thread, and no setns() back
// is needed (one that failed would leave a libuv or V8 thread in the container's namespace).
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>
#include <vector>

#include "addon/addon.h"
#include "common/netlink.h"
#include "common/util.h"

namespace pocker {
namespace {

constexpr const char* kStep = "network";

Napi::Value fail(Napi::Env env, int err, const char* syscall, const std::string& path) {
  return throwSystemError(env, err, syscall, path, kStep);
}

struct NsOpen {
  int nsFd;
  nl::Socket* sock;
  int err;
  const char* syscall;
};

void* openInNamespace(void* p) {
  auto* a = static_cast<NsOpen*>(p);
  if (setns(a->nsFd, CLONE_NEWNET) != 0) {
    a->err = errno;
    a->syscall = "setns";
    return nullptr;
  }
  a->err = a->sock->open();
  a->syscall = "socket";
  return nullptr;
}

// A netlink socket in the network namespace of `pid` (0: the caller's); *ns gets that namespace
// (/proc/PID/ns/net, its path in *path). Returns 0 or errno with *syscall set.
int openSocket(int64_t pid, nl::Socket* sock, Fd* ns, std::string* path, const char** syscall) {
  if (pid == 0) {
    *syscall = "socket";
    return sock->open();
  }
  char p[48];
  std::snprintf(p, sizeof p, "/proc/%lld/ns/net", static_cast<long long>(pid));
  *path = p;
  ns->reset(::open(p, O_RDONLY | O_CLOEXEC));
  *syscall = "open";
  if (!*ns) return errno;
  NsOpen a{ns->get(), sock, 0, ""};
  pthread_t t;
  *syscall = "pthread_create";
  if (int e = pthread_create(&t, nullptr, openInNamespace, &a)) return e;
  pthread_join(t, nullptr);
  *syscall = a.syscall;
  return a.err;
}

bool pidArg(const Napi::Value& v, int64_t* pid) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 0x7fffffff) || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  *pid = static_cast<int64_t>(d);
  return true;
}

bool stringArg(const Napi::Value& v, std::string* out) {
  if (!v.IsString()) return false;
  *out = v.As<Napi::String>().Utf8Value();
  return out->find('\0') == std::string::npos;
}

bool stringsArg(const Napi::Value& v, std::vector<std::string>* out) {
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    std::string s;
    if (!stringArg(a.Get(i), &s)) return false;
    out->push_back(std::move(s));
  }
  return true;
}

// netLinks(): {name, index, kind, master?, mtu, up, mac}[]
Napi::Array linksValue(Napi::Env env, const std::vector<nl::Link>& links) {
  Napi::Array out = Napi::Array::New(env, links.size());
  for (size_t i = 0; i < links.size(); i++) {
    const auto& l = links[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", l.name);
    o.Set("index", l.index);
    o.Set("kind", l.kind);
    if (!l.master.empty()) o.Set("master", l.master);
    o.Set("mtu", l.mtu);
    o.Set("up", l.up);
    o.Set("mac", l.mac);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Array addressesValue(Napi::Env env, const std::vector<nl::Address>& addrs) {
  Napi::Array out = Napi::Array::New(env, addrs.size());
  for (size_t i = 0; i < addrs.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", addrs[i].name);
    o.Set("address", addrs[i].cidr);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Array routesValue(Napi::Env env, const std::vector<nl::Route>& routes) {
  Napi::Array out = Napi::Array::New(env, routes.size());
  for (size_t i = 0; i < routes.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("dst", routes[i].dst);
    o.Set("dev", routes[i].dev);
    if (!routes[i].gateway.empty()) o.Set("gateway", routes[i].gateway);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value NetLinks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nl::Socket s;
  if (int e = s.open()) return fail(env, e, "socket", "");
  std::vector<nl::Link> links;
  if (int e = s.links(&links)) return fail(env, e, "RTM_GETLINK", "");
  return linksValue(env, links);
}

// netSnapshot(): {links, addresses, routes} of the caller's namespace through one socket and one
// link dump (what a start needs to know: the default route's MTU, whether the bridge is there, up
// and addressed), instead of a socket and a dump per question.
Napi::Value NetSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nl::Socket s;
  if (int e = s.open()) return fail(env, e, "socket", "");
  std::vector<nl::Link> links;
  if (int e = s.links(&links)) return fail(env, e, "RTM_GETLINK", "");
  std::vector<nl::Address> addrs;
  if (int e = s.addresses(&addrs, &links)) return fail(env, e, "RTM_GETADDR", "");
  std::vector<nl::Route> routes;
  if (int e = s.routes(&routes, &links)) return fail(env, e, "RTM_GETROUTE", "");
  Napi::Object out = Napi::Object::New(env);
  out.Set("links", linksValue(env, links));
  out.Set("addresses", addressesValue(env, addrs));
  out.Set("routes", routesValue(env, routes));
  return out;
}

// netBridge(name, addresses, mtu): creates the bridge if missing (true), adds the addresses it
// lacks, sets it up. A link of that name that is not a bridge is EEXIST.
Napi::Value NetBridge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  std::vector<std::string> addresses;
  if (info.Length() < 3 || !stringArg(info[0], &name) || !stringsArg(info[1], &addresses) || !info[2].IsNumber())
    return throwTypeError(env, "netBridge(name: string, addresses: string[], mtu: number)");
  double mtuD = info[2].As<Napi::Number>().DoubleValue();
  if (!(mtuD >= 0 && mtuD <= 65535)) return throwTypeError(env, "netBridge: mtu out of range");
  uint32_t mtu = static_cast<uint32_t>(mtuD);
  std::vector<nl::Cidr> cidrs(addresses.size());
  for (size_t i = 0; i < addresses.size(); i++)
    if (!nl::parseCidr(addresses[i], &cidrs[i])) return fail(env, EINVAL, "parse-address", name + " " + addresses[i]);
  nl::Socket s;
  if (int e = s.open()) return fail(env, e, "socket", name);
  nl::Link link;
  bool found = false;
  if (int e = s.link(name, &link, &found)) return fail(env, e, "RTM_GETLINK", name);
  bool created = false;
  if (!found) {
    int e = s.createBridge(name, mtu);
    if (e != 0 && e != EEXIST) return fail(env, e, "RTM_NEWLINK", name);
    created = e == 0;
    if (int e2 = s.link(name, &link, &found)) return fail(env, e2, "RTM_GETLINK", name);
    if (!found) return fail(env, ENODEV, "RTM_GETLINK", name);
  }
  if (link.kind != "bridge") return fail(env, EEXIST, "RTM_NEWLINK", name);
  std::vector<nl::Address> have;
  if (int e = s.addresses(&have)) return fail(env, e, "RTM_GETADDR", name);
  for (size_t i = 0; i < cidrs.size(); i++) {
    std::string norm = nl::formatIp(cidrs[i].family, cidrs[i].addr) + "/" + std::to_string(cidrs[i].prefix);
    bool present = false;
    for (const auto& a : have) present = present || (a.index == link.index && a.cidr == norm);
    if (present) continue;
    int e = s.addAddress(link.index, cidrs[i]);
    if (e != 0 && e != EEXIST) return fail(env, e, "RTM_NEWADDR", name + " " + addresses[i]);
  }
  if (!link.up) {
    nl::LinkChange up;
    up.up = true;
    if (int e = s.setLink(link.index, up)) return fail(env, e, "RTM_NEWLINK", name);
  }
  return Napi::Boolean::New(env, created);
}

// netDeleteLink(name): false when there is no such link.
Napi::Value NetDeleteLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (info.Length() < 1 || !stringArg(info[0], &name)) return throwTypeError(env, "netDeleteLink(name: string)");
  nl::Socket s;
  if (int e = s.open()) return fail(env, e, "socket", name);
  int e = s.deleteLink(name);
  if (e == ENODEV) return Napi::Boolean::New(env, false);
  if (e) return fail(env, e, "RTM_DELLINK", name);
  return Napi::Boolean::New(env, true);
}

// netAttach(pid, iface): the monitor's plumbing (common/netlink.h netAttach) into a running container.
Napi::Value NetAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid;
  const char* usage = "netAttach(pid: number, iface: {name, hostName, bridge, addresses, gateway?, gateway6?, mac, mtu})";
  if (info.Length() < 2 || !pidArg(info[0], &pid) || !info[1].IsObject()) return throwTypeError(env, usage);
  Napi::Object o = info[1].As<Napi::Object>();
  NetInterface i;
  auto optString = [&](const char* key, std::string* out) {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() || v.IsNull() || stringArg(v, out);
  };
  Napi::Value mtuV = o.Get("mtu"), addrV = o.Get("addresses");
  if (!stringArg(o.Get("name"), &i.name) || !stringArg(o.Get("hostName"), &i.hostName) || !optString("bridge", &i.bridge) ||
      !optString("gateway", &i.gateway) || !optString("gateway6", &i.gateway6) || !optString("mac", &i.mac) ||
      !(addrV.IsUndefined() || stringsArg(addrV, &i.addresses)) || !(mtuV.IsUndefined() || mtuV.IsNumber()))
    return throwTypeError(env, usage);
  if (mtuV.IsNumber()) {
    double m = mtuV.As<Napi::Number>().DoubleValue();
    if (!(m >= 0 && m <= 65535)) return throwTypeError(env, "netAttach: mtu out of range");
    i.mtu = static_cast<uint32_t>(m);
  }
  nl::Socket host, inner;
  Fd ns;
  std::string path;
  const char* syscall = "";
  if (int e = openSocket(pid, &inner, &ns, &path, &syscall)) return fail(env, e, syscall, path);
  if (int e = host.open()) return fail(env, e, "socket", i.hostName);
  if (Error err = netAttach(host, inner, ns.get(), i)) return fail(env, err.err, err.syscall, err.path);
  return env.Undefined();
}

// netDetach(pid, name): deletes `name` inside pid's network namespace (its veth peer goes too).
Napi::Value NetDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid;
  std::string name;
  if (info.Length() < 2 || !pidArg(info[0], &pid) || !stringArg(info[1], &name))
    return throwTypeError(env, "netDetach(pid: number, name: string)");
  nl::Socket inner;
  Fd ns;
  std::string path;
  const char* syscall = "";
  if (int e = openSocket(pid, &inner, &ns, &path, &syscall)) return fail(env, e, syscall, path);
  int e = inner.deleteLink(name);
  if (e == ENODEV) return Napi::Boolean::New(env, false);
  if (e) return fail(env, e, "RTM_DELLINK", name);
  return Napi::Boolean::New(env, true);
}

// netAddresses(pid?): {name, address}[] of the caller's namespace or of pid's.
Napi::Value NetAddresses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid = 0;
  if (info.Length() >= 1 && !info[0].IsUndefined() && !pidArg(info[0], &pid)) return throwTypeError(env, "netAddresses(pid?: number)");
  nl::Socket s;
  Fd ns;
  std::string path;
  const char* syscall = "";
  if (int e = openSocket(pid, &s, &ns, &path, &syscall)) return fail(env, e, syscall, path);
  std::vector<nl::Address> addrs;
  if (int e = s.addresses(&addrs)) return fail(env, e, "RTM_GETADDR", path);
  return addressesValue(env, addrs);
}

// netRoutes(): {dst, dev, gateway?}[] of the main table (IPv4 and IPv6).
Napi::Value NetRoutes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  nl::Socket s;
  if (int e = s.open()) return fail(env, e, "socket", "");
  std::vector<nl::Route> routes;
  if (int e = s.routes(&routes)) return fail(env, e, "RTM_GETROUTE", "");
  return routesValue(env, routes);
}

}  // namespace

// netBindTest(protocol, host, port): 0 when this process can bind host:port (nothing of the host
// holds it), else the errno of the socket call that failed (EADDRINUSE: taken). `host` is an IP
// literal (an IPv6 one may carry a %zone). The same calls Node's own test made (libuv's): TCP with
// SO_REUSEADDR, bind and listen; UDP a plain bind; no IPV6_V6ONLY (`::` is dual-stack, as the
// kernel's default). Done here so that `run -p` does not load node:net, node:dgram and node:cluster
// (~5 ms of a run here) for one bind; the socket is closed before returning.
Napi::Value NetBindTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string protocol, host;
  const char* usage = "netBindTest(protocol: 'tcp' | 'udp', host: string, port: number)";
  if (info.Length() < 3 || !stringArg(info[0], &protocol) || !stringArg(info[1], &host) || !info[2].IsNumber()) return throwTypeError(env, usage);
  const bool tcp = protocol == "tcp";
  const int64_t port = info[2].As<Napi::Number>().Int64Value();
  if ((!tcp && protocol != "udp") || port < 0 || port > 65535) return throwTypeError(env, usage);
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  // A numeric host: no lookup, nothing leaves this process.
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) return throwTypeError(env, "netBindTest: host must be an IP address");
  struct Free {
    addrinfo* a;
    ~Free() { freeaddrinfo(a); }
  } release{found};
  Fd fd(socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0));
  if (!fd) return Napi::Number::New(env, errno);
  if (tcp) {
    int on = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) return Napi::Number::New(env, errno);
  }
  if (bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) return Napi::Number::New(env, errno);
  if (tcp && listen(fd.get(), 1) != 0) return Napi::Number::New(env, errno);
  return Napi::Number::New(env, 0);
}

void initNet(Napi::Env env, Napi::Object exports) {
  exports.Set("netBindTest", Napi::Function::New(env, NetBindTest, "netBindTest"));
  exports.Set("netLinks", Napi::Function::New(env, NetLinks, "netLinks"));
  exports.Set("netSnapshot", Napi::Function::New(env, NetSnapshot, "netSnapshot"));
  exports.Set("netBridge", Napi::Function::New(env, NetBridge, "netBridge"));
  exports.Set("netDeleteLink", Napi::Function::New(env, NetDeleteLink, "netDeleteLink"));
  exports.Set("netAttach", Napi::Function::New(env, NetAttach, "netAttach"));
  exports.Set("netDetach", Napi::Function::New(env, NetDetach, "netDetach"));
  exports.Set("netAddresses", Napi::Function::New(env, NetAddresses, "netAddresses"));
  exports.Set("netRoutes", Napi::Function::New(env, NetRoutes, "netRoutes"));
}

}  // namespace pocker
