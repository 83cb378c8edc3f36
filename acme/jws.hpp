// JOSE for ACME: base64url, public JWKs (EC P-256 and RSA) with their RFC 7638 thumbprints,
// flattened JWS signed with the account key (ES256, or RS256 for RSA keys), key authorizations
// (RFC 8555 §8.1), the DNS-01 TXT value (§8.4) and External Account Binding (§7.3.4).
// Pure functions, no I/O; safe on any thread. The account key never leaves this file's callers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "base/ossl.hpp"

namespace portcullis::acme {

// RFC 4648 §5 without padding. decode accepts input with or without '=' padding and rejects any
// character outside the URL-safe alphabet ("base64url: invalid character '+' at 3").
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

// The public JWK of `key` with only the required members, in lexicographic order (RFC 7638 §3.2):
// EC P-256 {"crv","kty","x","y"}, RSA {"e","kty","n"}. Other key types are rejected.
Result<boost::json::object> public_jwk(EVP_PKEY* key);

// A public key back from a JWK (EC P-256 or RSA); used to verify our own signatures in tests.
Result<base::PkeyPtr> public_key_from_jwk(const boost::json::object& jwk);

// RFC 7638 thumbprint: base64url(SHA-256(canonical JSON of the required members)).
Result<std::string> jwk_thumbprint(const boost::json::object& jwk);
Result<std::string> jwk_thumbprint(EVP_PKEY* key);

// "ES256" for EC P-256 keys, "RS256" for RSA keys.
Result<std::string> jws_algorithm(EVP_PKEY* key);

// Raw signature over `signing_input`: for ES256 the 64-byte r||s (RFC 7518 §3.4), not DER.
Result<std::string> sign(EVP_PKEY* key, std::string_view signing_input);
// Checks a signature made by sign(); used by tests.
bool verify(EVP_PKEY* key, std::string_view signing_input, std::string_view signature);

// Who signs: the account URL ("kid", every request once the account exists) or the public key
// itself ("jwk", newAccount and revocation by certificate key).
struct JwsSigner {
  EVP_PKEY* key = nullptr;
  std::string kid;  // empty: embed the JWK
};

// Flattened JWS JSON (RFC 7515 §7.2.2) for an ACME POST. `payload` is the serialized JSON body;
// std::nullopt makes a POST-as-GET (empty payload, RFC 8555 §6.3). `nonce` may be empty only for
// the inner EAB JWS.
Result<boost::json::object> sign_request(const JwsSigner& signer, std::string_view url,
                                         std::string_view nonce,
                                         const std::optional<std::string>& payload);

// RFC 8555 §8.1: token "." thumbprint.
std::string key_authorization(std::string_view token, std::string_view thumbprint);
// RFC 8555 §8.4: base64url(SHA-256(key authorization)).
std::string dns01_txt_value(std::string_view key_authorization);

// RFC 8555 §7.3.4: the externalAccountBinding member — a JWS over the account's public JWK,
// HS256 with the CA-issued MAC key (given base64url, as CAs hand it out).
Result<boost::json::object> external_account_binding(EVP_PKEY* account_key, std::string_view kid,
                                                     std::string_view hmac_key_base64url,
                                                     std::string_view new_account_url);

}  // namespace portcullis::acme
