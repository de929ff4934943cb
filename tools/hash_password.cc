// keywarden-hash-password [PASSWORD]: prints the password_hash of a [[users]] entry.
// Without an argument the password is the first line of stdin (its line ending removed), which
// keeps it out of the shell history and the process list.
#include <cstdio>
#include <iostream>
#include <string>

#include "policy/password.h"

int main(int argc, char** argv) {
  if (argc > 2 ||
      (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help"))) {
    std::fprintf(stderr, "usage: %s [PASSWORD]   (without PASSWORD: read one line from stdin)\n",
                 argv[0]);
    return 2;
  }
  std::string password;
  if (argc == 2) {
    password = argv[1];
  } else {
    if (!std::getline(std::cin, password)) {
      std::fprintf(stderr, "no password on stdin\n");
      return 1;
    }
    if (!password.empty() && password.back() == '\r')
      password.pop_back();
  }
  std::printf("%s\n", kw::hashPassword(password).c_str());
  return 0;
}
