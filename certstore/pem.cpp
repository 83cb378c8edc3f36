#include "certstore/pem.hpp"

#include <cstdint>
#include <optional>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

namespace portcullis::certstore::pem {
namespace {

// One "-----BEGIN <type>----- ... -----END <type>-----" block as found in the input. `text` views
// the caller's buffer (for a key: the SecretBytes), so nothing secret is copied here.
struct Block {
  std::string_view type;
  std::string_view text;  // BEGIN line through END line, inclusive
  std::size_t index = 0;  // 1-based, counting every block in the input
  std::size_t line = 0;   // 1-based line of the BEGIN line
  bool encrypted_header = false;  // RFC 1421 "Proc-Type: 4,ENCRYPTED" (legacy OpenSSL keys)
};

constexpr std::string_view begin_marker = "-----BEGIN ";
constexpr std::string_view end_marker = "-----END ";
constexpr std::string_view dashes = "-----";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::optional<std::string_view> marker_type(std::string_view line, std::string_view marker) {
  if (!line.starts_with(marker) || !line.ends_with(dashes) || line.size() < marker.size() + dashes.size()) {
    return std::nullopt;
  }
  return line.substr(marker.size(), line.size() - marker.size() - dashes.size());
}

std::string block_label(const Block& b) { return fmt::format("block {} (line {})", b.index, b.line); }

// Splits the input into PEM blocks, remembering where each starts. The framing is checked here
// (BEGIN without END, mismatched END, text after the last block); the content of each block is
// decoded by OpenSSL afterwards so its own reason ends up in the error. Text before and between
// blocks is allowed because common tools write it there ("Bag Attributes", `openssl x509 -text`);
// text after the last block usually means a truncated or mangled paste, so it is refused.
// Messages never quote the input: for a key file it is secret.
Result<std::vector<Block>> split_blocks(std::string_view text) {
  std::vector<Block> blocks;
  std::optional<Block> open;
  std::size_t open_offset = 0;
  std::size_t line_no = 0;
  std::size_t garbage_line = 0;  // first non-blank line outside a block since the last END
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    std::size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view line = trim(text.substr(pos, (eol == std::string_view::npos ? text.size() : eol) - pos));
    ++line_no;
    if (auto type = marker_type(line, begin_marker)) {
      if (open) {
        return fail(Errc::invalid_input,
                    fmt::format("{}: BEGIN {} has no END line before the next BEGIN at line {}",
                                block_label(*open), open->type, line_no));
      }
      open = Block{*type, {}, blocks.size() + 1, line_no, false};
      open_offset = pos;
      garbage_line = 0;
    } else if (auto type = marker_type(line, end_marker)) {
      if (!open) {
        return fail(Errc::invalid_input, fmt::format("line {}: END {} without a BEGIN line", line_no, *type));
      }
      if (*type != open->type) {
        return fail(Errc::invalid_input, fmt::format("{}: BEGIN {} ends with END {} at line {}",
                                                     block_label(*open), open->type, *type, line_no));
      }
      open->text = text.substr(open_offset, next - open_offset);
      blocks.push_back(*open);
      open.reset();
    } else if (open) {
      if (line.starts_with("Proc-Type:") && line.find("ENCRYPTED") != std::string_view::npos) {
        open->encrypted_header = true;
      }
    } else if (!line.empty() && garbage_line == 0) {
      garbage_line = line_no;
    }
    pos = next;
  }
  if (open) {
    return fail(Errc::invalid_input, fmt::format("{}: BEGIN {} has no END line (truncated input?)",
                                                 block_label(*open), open->type));
  }
  if (!blocks.empty() && garbage_line != 0) {
    return fail(Errc::invalid_input,
                fmt::format("line {}: unexpected text after the last PEM block", garbage_line));
  }
  return blocks;
}

bool is_private_key_type(std::string_view type) {
  return type == "PRIVATE KEY" || type == "EC PRIVATE KEY" || type == "RSA PRIVATE KEY" ||
         type == "ENCRYPTED PRIVATE KEY" || type == "DSA PRIVATE KEY";
}

base::BioPtr view_bio(std::string_view text) {
  return base::BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// OpenSSL's reasons for the last failure, root cause first, without the numeric codes that make
// "error:0680009B:asn1 encoding routines::too long" hard to read in a log line or an error.
std::string reason_or(std::string fallback) {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    std::string text = reason ? reason : fmt::format("error {:08X}", code);
    if (out.find(text) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? fallback : out;
}

// Never prompts: OpenSSL's default callback would read a passphrase from the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

Result<base::X509Ptr> decode_certificate(const Block& b) {
  if (b.type != "CERTIFICATE" && b.type != "X509 CERTIFICATE" && b.type != "TRUSTED CERTIFICATE") {
    return fail(Errc::invalid_input, fmt::format("{}: not a certificate: found a {} block", block_label(b), b.type));
  }
  ERR_clear_error();
  auto bio = view_bio(b.text);
  base::X509Ptr cert(b.type == "TRUSTED CERTIFICATE" ? PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase, nullptr)
                                               : PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  if (!cert) {
    return fail(Errc::invalid_input, fmt::format("{}: not a certificate: {}", block_label(b),
                                                 reason_or("OpenSSL could not decode it")));
  }
  return cert;
}

// A private key decoder, one per thread and reused. OpenSSL 3.0 builds a decoder context (every
// provider's decoders, looked up under locks) for each PEM_read_bio_PrivateKey call, which costs
// about ten times the decoding itself (openssl/openssl#15199): 100,000 certificate files spent
// most of their start-up there. The context is the one PEM_read_bio_PrivateKey builds (input
// "PEM", any structure and key type, no passphrase callback: encrypted keys fail), built once.
class KeyDecoder {
 public:
  static KeyDecoder& for_this_thread() {
    thread_local KeyDecoder decoder;
    return decoder;
  }
  KeyDecoder(const KeyDecoder&) = delete;
  KeyDecoder& operator=(const KeyDecoder&) = delete;
  ~KeyDecoder() { OSSL_DECODER_CTX_free(ctx_); }

  // The key in `pem` (one PEM block), or null with OpenSSL's reason on its error queue.
  base::PkeyPtr decode(std::string_view pem) {
    if (ctx_ == nullptr) {  // could not be built: the one-shot path, with its own error
      auto bio = view_bio(pem);
      return base::PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    }
    out_ = nullptr;
    auto data = reinterpret_cast<const unsigned char*>(pem.data());
    std::size_t left = pem.size();
    const bool ok = OSSL_DECODER_from_data(ctx_, &data, &left) == 1;
    base::PkeyPtr key(out_);  // the context's constructor stored the decoded key here
    out_ = nullptr;
    if (!ok) key.reset();
    return key;
  }

 private:
  KeyDecoder()
      : ctx_(OSSL_DECODER_CTX_new_for_pkey(&out_, "PEM", nullptr, nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr)) {}

  EVP_PKEY* out_ = nullptr;
  OSSL_DECODER_CTX* ctx_ = nullptr;
};

// An encrypted key is refused with what to do about it (keys are read without a passphrase).
Status refuse_encrypted(const Block& b) {
  if (b.type == "ENCRYPTED PRIVATE KEY" || b.encrypted_header) {
    return fail(Errc::invalid_input,
                fmt::format("{}: the private key is encrypted; provide it unencrypted "
                            "(e.g. openssl pkey -in key.pem -out plain.pem)",
                            block_label(b)));
  }
  return {};
}

// The one private key block of a key file's blocks (`openssl ecparam -genkey` writes the curve
// before the key; it carries nothing we need). Errors: another kind of block, a second key, none.
Result<const Block*> only_key_block(const std::vector<Block>& blocks) {
  const Block* key_block = nullptr;
  for (const Block& b : blocks) {
    if (b.type == "EC PARAMETERS") continue;
    if (!is_private_key_type(b.type)) {
      return fail(Errc::invalid_input,
                  fmt::format("{}: found a {} block where a private key was expected", block_label(b), b.type));
    }
    if (key_block != nullptr) {
      return fail(Errc::invalid_input, fmt::format("{}: more than one private key (the first is block {})",
                                                   block_label(b), key_block->index));
    }
    key_block = &b;
  }
  if (key_block == nullptr) return fail(Errc::invalid_input, "no private key in input");
  return key_block;
}

Result<base::PkeyPtr> decode_key(const Block& b) {
  if (auto st = refuse_encrypted(b); !st) return tl::unexpected(st.error());
  ERR_clear_error();
  base::PkeyPtr key = KeyDecoder::for_this_thread().decode(b.text);
  if (!key) {
    // OpenSSL's reasons are codes and names, never the key bytes.
    return fail(Errc::invalid_input, fmt::format("{}: not a usable private key: {}", block_label(b),
                                                 reason_or("OpenSSL could not decode it")));
  }
  return key;
}

}  // namespace

Result<std::vector<base::X509Ptr>> parse_chain(std::string_view text) {
  auto blocks = split_blocks(text);
  if (!blocks) return tl::unexpected(blocks.error());
  std::vector<base::X509Ptr> chain;
  for (const Block& b : *blocks) {
    if (is_private_key_type(b.type)) {
      return fail(Errc::invalid_input,
                  fmt::format("{}: unexpected {} block in a certificate chain (the key belongs in its own file)",
                              block_label(b), b.type));
    }
    auto cert = decode_certificate(b);
    if (!cert) return tl::unexpected(cert.error());
    chain.push_back(std::move(*cert));
  }
  if (chain.empty()) return fail(Errc::invalid_input, "no certificate in input");
  return chain;
}

Result<base::PkeyPtr> parse_private_key(const base::SecretBytes& text) {
  auto blocks = split_blocks(text.reveal());
  if (!blocks) return tl::unexpected(blocks.error());
  auto key_block = only_key_block(*blocks);
  if (!key_block) return tl::unexpected(key_block.error());
  return decode_key(**key_block);
}

Result<ChainAndKey> parse_chain_and_key(const base::SecretBytes& text) {
  auto blocks = split_blocks(text.reveal());
  if (!blocks) return tl::unexpected(blocks.error());
  ChainAndKey out;
  const Block* key_block = nullptr;
  for (const Block& b : *blocks) {
    if (b.type == "EC PARAMETERS") continue;
    if (is_private_key_type(b.type)) {
      if (key_block != nullptr) {
        return fail(Errc::invalid_input, fmt::format("{}: more than one private key (the first is block {})",
                                                     block_label(b), key_block->index));
      }
      key_block = &b;
      continue;
    }
    auto cert = decode_certificate(b);
    if (!cert) return tl::unexpected(cert.error());
    out.chain.push_back(std::move(*cert));
  }
  if (out.chain.empty()) return fail(Errc::invalid_input, "no certificate in input");
  if (key_block == nullptr) return fail(Errc::invalid_input, "no private key in input");
  auto key = decode_key(*key_block);
  if (!key) return tl::unexpected(key.error());
  out.key = std::move(*key);
  return out;
}

Result<std::vector<unsigned char>> leaf_der(std::string_view text, bool with_key) {
  auto blocks = split_blocks(text);
  if (!blocks) return tl::unexpected(blocks.error());
  const Block* leaf = nullptr;
  const Block* key_block = nullptr;
  for (const Block& b : *blocks) {
    if (b.type == "EC PARAMETERS" && with_key) continue;
    if (is_private_key_type(b.type)) {
      if (!with_key) {
        return fail(Errc::invalid_input,
                    fmt::format("{}: unexpected {} block in a certificate chain (the key belongs in its own file)",
                                block_label(b), b.type));
      }
      if (key_block != nullptr) {
        return fail(Errc::invalid_input, fmt::format("{}: more than one private key (the first is block {})",
                                                     block_label(b), key_block->index));
      }
      key_block = &b;
      continue;
    }
    if (b.type != "CERTIFICATE" && b.type != "X509 CERTIFICATE" && b.type != "TRUSTED CERTIFICATE") {
      return fail(Errc::invalid_input, fmt::format("{}: not a certificate: found a {} block", block_label(b), b.type));
    }
    if (leaf == nullptr) leaf = &b;
  }
  if (leaf == nullptr) return fail(Errc::invalid_input, "no certificate in input");
  if (with_key) {
    if (key_block == nullptr) return fail(Errc::invalid_input, "no private key in input");
    if (auto st = refuse_encrypted(*key_block); !st) return tl::unexpected(st.error());
  }
  ERR_clear_error();
  auto bio = view_bio(leaf->text);
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    return fail(Errc::invalid_input, fmt::format("{}: not a certificate: {}", block_label(*leaf),
                                                 reason_or("its base64 does not decode")));
  }
  std::vector<unsigned char> der(data, data + len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return der;
}

Status check_private_key_blocks(const base::SecretBytes& text) {
  auto blocks = split_blocks(text.reveal());
  if (!blocks) return tl::unexpected(blocks.error());
  auto key_block = only_key_block(*blocks);
  if (!key_block) return tl::unexpected(key_block.error());
  return refuse_encrypted(**key_block);
}

std::string to_pem(X509* cert) {
  base::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

base::SecretBytes to_pem(EVP_PKEY* key) {
  // A secmem BIO clears its buffer when freed, so the only copy left is the SecretBytes.
  base::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return base::SecretBytes(std::string(data, static_cast<std::size_t>(len)));
}

Result<base::PkeyPtr> generate_p256() {
  base::PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return fail(Errc::crypto, "generating a P-256 key: " + reason_or("EVP_EC_gen failed"));
  return key;
}

Result<base::PkeyPtr> generate_rsa(int bits) {
  if (bits < 2048) return fail(Errc::invalid_input, fmt::format("RSA keys need at least 2048 bits, got {}", bits));
  base::PkeyPtr key(EVP_RSA_gen(static_cast<unsigned>(bits)));
  if (!key) return fail(Errc::crypto, fmt::format("generating an RSA-{} key: {}", bits, reason_or("EVP_RSA_gen failed")));
  return key;
}

Result<base::X509Ptr> self_signed(EVP_PKEY* key, const std::vector<std::string>& names, int days) {
  if (names.empty()) return fail(Errc::invalid_input, "self-signed certificate: no names");
  auto crypto_fail = [](std::string_view step) {
    return fail(Errc::crypto, fmt::format("self-signed certificate: {}: {}", step, reason_or("failed")));
  };
  base::X509Ptr cert(X509_new());
  if (!cert) return crypto_fail("X509_new");
  X509_set_version(cert.get(), X509_VERSION_3);

  // RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes keep serials unique.
  base::BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return crypto_fail("serial");
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr);

  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string& cn = names.front();
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1) {
    return crypto_fail("subject");
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return crypto_fail("public key");

  base::GeneralNamesPtr sans(sk_GENERAL_NAME_new_null());
  if (!sans) return crypto_fail("subjectAltName");
  for (const auto& name : names) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (gn == nullptr || ia5 == nullptr || ASN1_STRING_set(ia5, name.data(), static_cast<int>(name.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(ia5);
      return crypto_fail("subjectAltName");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    sk_GENERAL_NAME_push(sans.get(), gn);
  }
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return crypto_fail("subjectAltName");
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) return crypto_fail("signing");
  return cert;
}

}  // namespace portcullis::certstore::pem
