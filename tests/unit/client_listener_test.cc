// The Unix socket file at startup (client_listener.h): absent, stale, live, not a socket; its
// mode; removed at exit only while it is still ours.
#include <doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "proxy/client_listener.h"

namespace kw {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kw-listener-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::string cmd = "rm -rf '" + path + "'";
    CHECK(std::system(cmd.c_str()) == 0);
  }
};

mode_t modeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("client listener: a Unix socket absent, stale, live, or not a socket") {
  TempDir dir;
  const std::string path = dir.path + "/kw.sock";
  int fd = -1;
  ino_t inode = 0;
  std::string error;

  // Absent: bound, with the mode asked for.
  REQUIRE(bindUnixListener(path, 0640, &fd, &inode, &error));
  CHECK(modeOf(path) == 0640);
  REQUIRE(listen(fd, 16) == 0);

  // Live: something accepts on it, so startup fails and the file stays.
  int fd2 = -1;
  ino_t inode2 = 0;
  CHECK_FALSE(bindUnixListener(path, 0660, &fd2, &inode2, &error));
  CHECK(error.find("another process listens on this socket") != std::string::npos);
  CHECK(modeOf(path) == 0640);

  // Stale: the listener is gone, the file stays (a killed process): replaced.
  ::close(fd);
  REQUIRE(bindUnixListener(path, 0660, &fd2, &inode2, &error));
  CHECK(modeOf(path) == 0660);
  CHECK(inode2 != 0);

  // At exit: removed only while it is still the file this process made.
  removeUnixSocket(path, inode2 + 1);
  CHECK(access(path.c_str(), F_OK) == 0);
  removeUnixSocket(path, inode2);
  CHECK(access(path.c_str(), F_OK) != 0);
  ::close(fd2);

  // Not a socket: never removed.
  const std::string file = dir.path + "/data";
  std::ofstream(file) << "keep me";
  CHECK_FALSE(bindUnixListener(file, 0660, &fd, &inode, &error));
  CHECK(error.find("the file exists and is not a socket") != std::string::npos);
  CHECK(access(file.c_str(), F_OK) == 0);

  // A directory that does not exist: the bind's own reason.
  CHECK_FALSE(bindUnixListener(dir.path + "/missing/kw.sock", 0660, &fd, &inode, &error));
  CHECK(error.find("No such file or directory") != std::string::npos);
}

}  // namespace kw
