// PEM parsing with errors that say which block and why, and key generation helpers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/ossl.hpp"
#include "base/secret_bytes.hpp"

namespace portcullis::certstore::pem {

// Every CERTIFICATE block in order. Errors: "no certificate in input", "block 2 (line 31):
// not a certificate: <openssl reason>", "block 1 (line 1): unexpected PRIVATE KEY block in a
// certificate chain ...", "line 40: unexpected text after the last PEM block". Text before and
// between blocks is allowed (tools write "Bag Attributes" and `-text` output there).
Result<std::vector<base::X509Ptr>> parse_chain(std::string_view text);

// Exactly one private key (PKCS#8, "EC PRIVATE KEY" or "RSA PRIVATE KEY"). Encrypted keys are
// rejected with a clear message. Errors never include key material.
Result<base::PkeyPtr> parse_private_key(const base::SecretBytes& text);

// A chain and its key in one text, blocks in any order (the "combined" PEM of HAProxy's and
// Caddy's certificate folders): every CERTIFICATE block in order (leaf first) and exactly one
// private key. Errors as parse_chain and parse_private_key, block numbers and lines counted in the
// whole text; "no private key in input" when it has none.
struct ChainAndKey {
  std::vector<base::X509Ptr> chain;
  base::PkeyPtr key;
};
Result<ChainAndKey> parse_chain_and_key(const base::SecretBytes& text);

// The cheap half of parse_chain / parse_chain_and_key, for certificates parsed on first use (see
// CertBundle::from_pem_deferred): the blocks are split and their types checked with the same
// errors (for `with_key`: exactly one private key, not encrypted), and the first certificate block
// is base64-decoded to DER. No certificate or key is decoded: that is the expensive part.
Result<std::vector<unsigned char>> leaf_der(std::string_view text, bool with_key);
// The same for a key file: parse_private_key's structural errors (one key block, not encrypted),
// without decoding the key.
Status check_private_key_blocks(const base::SecretBytes& text);

std::string to_pem(X509* cert);
base::SecretBytes to_pem(EVP_PKEY* key);  // PKCS#8, unencrypted

// A fresh key: ECDSA P-256 (managed certificates, ACME account) or RSA.
Result<base::PkeyPtr> generate_p256();
Result<base::PkeyPtr> generate_rsa(int bits);

// A self-signed certificate for `names` (the first is the CN), valid for `days`. Used for the
// default certificate at first start and by tests.
Result<base::X509Ptr> self_signed(EVP_PKEY* key, const std::vector<std::string>& names, int days);

}  // namespace portcullis::certstore::pem
