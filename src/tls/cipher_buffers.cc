#include "tls/cipher_buffers.h"

#include <algorithm>
#include <cstring>

namespace kw {
namespace {

int markInit(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// One method per direction, made once for the process (never freed, like OpenSSL's own).
BIO_METHOD* makeMethod(const char* name, int (*read)(BIO*, char*, size_t, size_t*),
                       int (*write)(BIO*, const char*, size_t, size_t*),
                       long (*control)(BIO*, int, long, void*)) {
  BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, name);
  if (m == nullptr)
    return nullptr;
  if (read != nullptr)
    BIO_meth_set_read_ex(m, read);
  if (write != nullptr)
    BIO_meth_set_write_ex(m, write);
  BIO_meth_set_ctrl(m, control);
  BIO_meth_set_create(m, markInit);
  return m;
}

BIO* newBioOver(const BIO_METHOD* method, void* data) {
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (bio != nullptr)
    BIO_set_data(bio, data);
  return bio;
}

}  // namespace

BIO* CipherInput::newBio() {
  static const BIO_METHOD* const method =
      makeMethod("kw-cipher-input", &CipherInput::read, nullptr, &CipherInput::control);
  return newBioOver(method, this);
}

void CipherInput::append(std::string_view bytes) {
  if (pos_ != 0) {  // only when the owner fed more before reading: keep what is unread
    bytes_.erase(0, pos_);
    pos_ = 0;
  }
  bytes_.append(bytes);
}

int CipherInput::read(BIO* bio, char* data, size_t size, size_t* read) {
  auto* self = static_cast<CipherInput*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const size_t n = std::min(size, self->size());
  if (n == 0) {
    BIO_set_retry_read(bio);  // not the end of the stream: wait for more
    *read = 0;
    return 0;
  }
  memcpy(data, self->bytes_.data() + self->pos_, n);
  self->pos_ += n;
  if (self->pos_ == self->bytes_.size()) {
    self->pos_ = 0;
    if (self->bytes_.capacity() > kKeepBytes)
      std::string().swap(self->bytes_);
    else
      self->bytes_.clear();
  }
  *read = n;
  return 1;
}

long CipherInput::control(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
  case BIO_CTRL_PENDING:
    return static_cast<long>(static_cast<CipherInput*>(BIO_get_data(bio))->size());
  case BIO_CTRL_FLUSH:
    return 1;
  default:
    return 0;
  }
}

BIO* CipherOutput::newBio() {
  static const BIO_METHOD* const method =
      makeMethod("kw-cipher-output", nullptr, &CipherOutput::write, &CipherOutput::control);
  return newBioOver(method, this);
}

void CipherOutput::take(std::string* out) {
  if (out->empty())
    out->swap(bytes_);  // bytes_ gets the owner's empty string, and its capacity
  else
    out->append(bytes_);
  if (bytes_.capacity() > kKeepBytes)
    std::string().swap(bytes_);
  else
    bytes_.clear();
}

int CipherOutput::write(BIO* bio, const char* data, size_t size, size_t* written) {
  static_cast<CipherOutput*>(BIO_get_data(bio))->bytes_.append(data, size);
  *written = size;
  return 1;
}

long CipherOutput::control(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // OpenSSL flushes after each flight: always done
}

}  // namespace kw
