// Where a TlsChannel's ciphertext waits, on each side of OpenSSL, and the BIOs OpenSSL reads
// and writes it through:
//
//   buffer        filled by                        drained by
//   CipherInput   the owner (bytes from the        OpenSSL, through its read BIO
//                 socket: feedCiphertext)
//   CipherOutput  OpenSSL, through its write BIO   the owner (takeCiphertext: the whole string,
//                 (records, alerts, handshake)     moved when the owner's is empty)
//
// Plain strings rather than OpenSSL's memory BIOs: the output is handed over without a copy, and
// a drained buffer larger than kKeepBytes is released, so a connection that once moved a burst
// does not keep its memory while idle (OpenSSL's record buffers go too: SSL_MODE_RELEASE_BUFFERS).
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace kw {

class CipherInput {
public:
  static constexpr size_t kKeepBytes = 16 * 1024;

  CipherInput() = default;
  CipherInput(const CipherInput&) = delete;
  CipherInput& operator=(const CipherInput&) = delete;

  // A BIO OpenSSL reads this buffer through ("retry" when it is empty); it must not outlive the
  // buffer. Null when out of memory.
  BIO* newBio();
  void append(std::string_view bytes);
  size_t size() const { return bytes_.size() - pos_; }
  size_t capacity() const { return bytes_.capacity(); }

private:
  static int read(BIO* bio, char* data, size_t size, size_t* read);
  static long control(BIO* bio, int cmd, long num, void* ptr);

  std::string bytes_;
  size_t pos_ = 0;  // bytes_[0, pos_) were read already
};

class CipherOutput {
public:
  static constexpr size_t kKeepBytes = 16 * 1024;

  CipherOutput() = default;
  CipherOutput(const CipherOutput&) = delete;
  CipherOutput& operator=(const CipherOutput&) = delete;

  // A BIO OpenSSL writes into this buffer through; it must not outlive the buffer.
  BIO* newBio();
  // Everything written, appended to *out (swapped in when *out is empty).
  void take(std::string* out);
  bool empty() const { return bytes_.empty(); }
  size_t size() const { return bytes_.size(); }
  size_t capacity() const { return bytes_.capacity(); }

private:
  static int write(BIO* bio, const char* data, size_t size, size_t* written);
  static long control(BIO* bio, int cmd, long num, void* ptr);

  std::string bytes_;
};

}  // namespace kw
