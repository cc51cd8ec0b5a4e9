#pragma once
// Every fd the main side of a pool owns (channels, pidfds, epoll, arenas) is
// registered here, so that a worker forked later by *any* pool closes them
// all. Otherwise worker B would hold worker A's socket open and A would never
// see EOF, and fd counts would grow with each pool.
#include <vector>

namespace ferry::workers::detail {

void register_parent_fd(int fd);
void unregister_parent_fd(int fd);
/// A copy taken before fork: the child must not touch the mutex.
std::vector<int> registered_parent_fds();

}  // namespace ferry::workers::detail
