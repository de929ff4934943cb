// Configuration reload (SIGHUP, KEYWARDEN RELOAD). The file is loaded and validated completely
// before anything changes; a good file is published as a new immutable snapshot that every
// worker picks up at its next loop turn (requests already dispatched finish under the old one).
#pragma once

#include <string>
#include <vector>

namespace kw {

class SharedState;

struct ReloadResult {
  bool ok = false;
  std::string error;                       // file:line: reason, when !ok
  std::vector<std::string> needs_restart;  // settings that changed but only apply at startup
};

ReloadResult reloadConfig(SharedState& shared);

}  // namespace kw
