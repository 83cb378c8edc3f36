#include "acme/jws.hpp"

#include <array>
#include <span>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

namespace portcullis::acme {
namespace json = boost::json;
using base::BignumPtr;
using base::EcdsaSigPtr;
using base::MdCtxPtr;
using base::PkeyCtxPtr;
using base::PkeyPtr;

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr int p256_coordinate_bytes = 32;

using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, base::OsslDeleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, base::OsslDeleter<OSSL_PARAM_free>>;

tl::unexpected<Error> crypto_error(std::string_view what) {
  auto detail = base::openssl_errors();
  return fail(Errc::crypto, detail.empty() ? std::string(what) : fmt::format("{}: {}", what, detail));
}

bool is_p256(EVP_PKEY* key) {
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
    return false;
  std::string_view name(group, len);
  return name == "prime256v1" || name == "P-256" || name == "secp256r1";
}

Result<std::string> bn_param(EVP_PKEY* key, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return crypto_error(fmt::format("read key {}", name));
  BignumPtr bn(raw);
  int len = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string out(static_cast<size_t>(len), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), len) != len)
    return crypto_error(fmt::format("encode key {}", name));
  return out;
}

std::string sha256(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

Result<std::string> member(const json::object& jwk, std::string_view name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->value().is_string())
    return fail(Errc::invalid_input, fmt::format("jwk: missing string member \"{}\"", name));
  return std::string(it->value().get_string());
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    unsigned v = at(i) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return fail(Errc::invalid_input, "base64url: truncated input");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return fail(Errc::invalid_input, fmt::format("base64url: invalid character '{}' at {}", c, i));
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Result<json::object> public_jwk(EVP_PKEY* key) {
  json::object jwk;
  if (EVP_PKEY_is_a(key, "EC")) {
    if (!is_p256(key)) return fail(Errc::invalid_input, "jwk: only the P-256 curve is supported");
    auto x = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, p256_coordinate_bytes);
    if (!x) return tl::unexpected(x.error());
    auto y = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, p256_coordinate_bytes);
    if (!y) return tl::unexpected(y.error());
    jwk["crv"] = "P-256";
    jwk["kty"] = "EC";
    jwk["x"] = base64url_encode(*x);
    jwk["y"] = base64url_encode(*y);
    return jwk;
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    auto n = bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0);
    if (!n) return tl::unexpected(n.error());
    auto e = bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0);
    if (!e) return tl::unexpected(e.error());
    jwk["e"] = base64url_encode(*e);
    jwk["kty"] = "RSA";
    jwk["n"] = base64url_encode(*n);
    return jwk;
  }
  return fail(Errc::invalid_input, "jwk: unsupported key type (expected EC P-256 or RSA)");
}

Result<PkeyPtr> public_key_from_jwk(const json::object& jwk) {
  auto kty = member(jwk, "kty");
  if (!kty) return tl::unexpected(kty.error());
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return crypto_error("jwk: OSSL_PARAM_BLD_new");
  std::string point;
  BignumPtr n, e;
  const char* type = nullptr;
  if (*kty == "EC") {
    auto crv = member(jwk, "crv");
    if (!crv) return tl::unexpected(crv.error());
    if (*crv != "P-256") return fail(Errc::invalid_input, fmt::format("jwk: unsupported curve \"{}\"", *crv));
    auto x = member(jwk, "x").and_then(base64url_decode);
    if (!x) return tl::unexpected(x.error());
    auto y = member(jwk, "y").and_then(base64url_decode);
    if (!y) return tl::unexpected(y.error());
    if (x->size() != p256_coordinate_bytes || y->size() != p256_coordinate_bytes)
      return fail(Errc::invalid_input, "jwk: P-256 coordinates must be 32 bytes");
    point = "\x04" + *x + *y;  // SEC 1 uncompressed point
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    type = "EC";
  } else if (*kty == "RSA") {
    auto nb = member(jwk, "n").and_then(base64url_decode);
    if (!nb) return tl::unexpected(nb.error());
    auto eb = member(jwk, "e").and_then(base64url_decode);
    if (!eb) return tl::unexpected(eb.error());
    n.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(nb->data()), static_cast<int>(nb->size()), nullptr));
    e.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(eb->data()), static_cast<int>(eb->size()), nullptr));
    if (!n || !e) return crypto_error("jwk: BN_bin2bn");
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    type = "RSA";
  } else {
    return fail(Errc::invalid_input, fmt::format("jwk: unsupported kty \"{}\"", *kty));
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return crypto_error("jwk: build public key");
  return PkeyPtr(raw);
}

Result<std::string> jwk_thumbprint(const json::object& jwk) {
  // RFC 7638 §3.2: only the required members, lexicographic order, no whitespace.
  auto kty = member(jwk, "kty");
  if (!kty) return tl::unexpected(kty.error());
  static constexpr std::string_view ec_members[] = {"crv", "kty", "x", "y"};
  static constexpr std::string_view rsa_members[] = {"e", "kty", "n"};
  std::span<const std::string_view> names;
  if (*kty == "EC") names = ec_members;
  else if (*kty == "RSA") names = rsa_members;
  else return fail(Errc::invalid_input, fmt::format("jwk: unsupported kty \"{}\"", *kty));
  json::object canonical;
  for (auto name : names) {
    auto value = member(jwk, name);
    if (!value) return tl::unexpected(value.error());
    canonical[name] = *value;
  }
  return base64url_encode(sha256(json::serialize(canonical)));
}

Result<std::string> jwk_thumbprint(EVP_PKEY* key) { return public_jwk(key).and_then([](const json::object& j) { return jwk_thumbprint(j); }); }

Result<std::string> jws_algorithm(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") && is_p256(key)) return std::string("ES256");
  if (EVP_PKEY_is_a(key, "RSA")) return std::string("RS256");
  return fail(Errc::invalid_input, "jws: unsupported account key (expected EC P-256 or RSA)");
}

Result<std::string> sign(EVP_PKEY* key, std::string_view signing_input) {
  auto alg = jws_algorithm(key);
  if (!alg) return tl::unexpected(alg.error());
  MdCtxPtr md(EVP_MD_CTX_new());
  size_t len = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1)
    return crypto_error("jws: sign");
  std::string der(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1)
    return crypto_error("jws: sign");
  der.resize(len);
  if (*alg == "RS256") return der;

  // RFC 7518 §3.4: ES256 signatures are r||s, each left-padded to 32 bytes, not DER.
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return crypto_error("jws: decode ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * p256_coordinate_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, p256_coordinate_bytes) != p256_coordinate_bytes ||
      BN_bn2binpad(s, out + p256_coordinate_bytes, p256_coordinate_bytes) != p256_coordinate_bytes)
    return crypto_error("jws: encode ECDSA signature");
  return raw;
}

bool verify(EVP_PKEY* key, std::string_view signing_input, std::string_view signature) {
  auto alg = jws_algorithm(key);
  if (!alg) return false;
  std::string der(signature);
  if (*alg == "ES256") {
    if (signature.size() != 2 * p256_coordinate_bytes) return false;
    EcdsaSigPtr sig(ECDSA_SIG_new());
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    BIGNUM* r = BN_bin2bn(raw, p256_coordinate_bytes, nullptr);
    BIGNUM* s = BN_bin2bn(raw + p256_coordinate_bytes, p256_coordinate_bytes, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) return false;
    der.assign(static_cast<size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    i2d_ECDSA_SIG(sig.get(), &out);
  }
  MdCtxPtr md(EVP_MD_CTX_new());
  bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1;
  base::openssl_errors();  // a failed verification is an answer, not an error to keep
  return ok;
}

Result<json::object> sign_request(const JwsSigner& signer, std::string_view url, std::string_view nonce,
                                  const std::optional<std::string>& payload) {
  auto alg = jws_algorithm(signer.key);
  if (!alg) return tl::unexpected(alg.error());
  json::object header;
  header["alg"] = *alg;
  if (signer.kid.empty()) {
    auto jwk = public_jwk(signer.key);
    if (!jwk) return tl::unexpected(jwk.error());
    header["jwk"] = std::move(*jwk);
  } else {
    header["kid"] = signer.kid;
  }
  if (!nonce.empty()) header["nonce"] = nonce;
  header["url"] = url;
  std::string protected_b64 = base64url_encode(json::serialize(header));
  std::string payload_b64 = payload ? base64url_encode(*payload) : std::string();
  auto signature = sign(signer.key, protected_b64 + "." + payload_b64);
  if (!signature) return tl::unexpected(signature.error());
  json::object jws;
  jws["protected"] = protected_b64;
  jws["payload"] = payload_b64;
  jws["signature"] = base64url_encode(*signature);
  return jws;
}

std::string key_authorization(std::string_view token, std::string_view thumbprint) {
  return fmt::format("{}.{}", token, thumbprint);
}

std::string dns01_txt_value(std::string_view key_authorization) {
  return base64url_encode(sha256(key_authorization));
}

Result<json::object> external_account_binding(EVP_PKEY* account_key, std::string_view kid,
                                              std::string_view hmac_key_base64url,
                                              std::string_view new_account_url) {
  auto mac_key = base64url_decode(hmac_key_base64url);
  if (!mac_key) return tl::unexpected(Error(Errc::config, "eab_hmac_key: " + mac_key.error().message()));
  auto jwk = public_jwk(account_key);
  if (!jwk) return tl::unexpected(jwk.error());
  json::object header;
  header["alg"] = "HS256";
  header["kid"] = kid;
  header["url"] = new_account_url;
  std::string protected_b64 = base64url_encode(json::serialize(header));
  std::string payload_b64 = base64url_encode(json::serialize(*jwk));
  std::string input = protected_b64 + "." + payload_b64;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned mac_len = 0;
  if (!HMAC(EVP_sha256(), mac_key->data(), static_cast<int>(mac_key->size()),
            reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &mac_len))
    return crypto_error("eab: HMAC-SHA256");
  OPENSSL_cleanse(mac_key->data(), mac_key->size());
  json::object jws;
  jws["protected"] = protected_b64;
  jws["payload"] = payload_b64;
  jws["signature"] = base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_len));
  return jws;
}

}  // namespace portcullis::acme
