#!/usr/bin/env python3
"""Mints real JWTs with PyJWT for verimesh-policy's tests: fresh keys every run, one token
per algorithm, and one per failure the verifier must catch. Prints one JSON object:
{"now": ..., "jwks": "<JWKS text>", "other_jwks": "...", "tokens": {"name": "token", ...}}."""
import base64, hashlib, hmac, json, os, sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

# A fixed instant for the pure engine's tests; callers judging tokens against the wall clock
# (the proxy's tests) pass MINT_NOW.
NOW = int(os.environ.get("MINT_NOW", "1700000000"))
ISS = "https://issuer.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(alg_cls, key, kid, alg=None):
    d = json.loads(alg_cls.to_jwk(key.public_key()))
    d["kid"] = kid
    if alg:
        d["alg"] = alg
    return d


rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
p256 = ec.generate_private_key(ec.SECP256R1())
p384 = ec.generate_private_key(ec.SECP384R1())
ed = ed25519.Ed25519PrivateKey.generate()
other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

jwks = {"keys": [
    jwk(RSAAlgorithm, rsa_key, "rsa"),
    jwk(ECAlgorithm, p256, "p256"),
    jwk(ECAlgorithm, p384, "p384"),
    jwk(OKPAlgorithm, ed, "ed"),
]}
other_jwks = {"keys": [jwk(RSAAlgorithm, other_rsa, "rsa")]}

claims = {
    "iss": ISS, "sub": "alice", "aud": "svc", "exp": NOW + 3600, "iat": NOW,
    "azp": "web-client", "groups": ["admin", "dev"], "org": {"team": "core"},
    "scope": "read write", "email": "alice@example.com", "level": 3,
}


def mint(key, alg, kid, **over):
    c = dict(claims)
    c.update(over)
    c = {k: v for k, v in c.items() if v is not None}
    headers = {"kid": kid} if kid else {}
    return jwt.encode(c, key, algorithm=alg, headers=headers)


tokens = {}
for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]:
    tokens[alg] = mint(rsa_key, alg, "rsa")
tokens["ES256"] = mint(p256, "ES256", "p256")
tokens["ES384"] = mint(p384, "ES384", "p384")
tokens["EdDSA"] = mint(ed, "EdDSA", "ed")

tokens["no_kid"] = mint(rsa_key, "RS256", None)
tokens["aud_list"] = mint(rsa_key, "RS256", "rsa", aud=["other", "svc"])
tokens["no_exp"] = mint(rsa_key, "RS256", "rsa", exp=None)
tokens["expired"] = mint(rsa_key, "RS256", "rsa", exp=NOW - 120)
tokens["expired_within_skew"] = mint(rsa_key, "RS256", "rsa", exp=NOW - 30)
tokens["not_yet_valid"] = mint(rsa_key, "RS256", "rsa", nbf=NOW + 600)
tokens["nbf_within_skew"] = mint(rsa_key, "RS256", "rsa", nbf=NOW + 30)
tokens["wrong_aud"] = mint(rsa_key, "RS256", "rsa", aud="someone-else")
tokens["unknown_issuer"] = mint(rsa_key, "RS256", "rsa", iss="https://evil.example")
tokens["unknown_kid"] = mint(rsa_key, "RS256", "nope")
tokens["wrong_key_same_kid"] = mint(other_rsa, "RS256", "rsa")
tokens["es256_with_p384_kid"] = mint(p256, "ES256", "p384")
tokens["other_user"] = mint(rsa_key, "RS256", "rsa", sub="bob", groups=["dev"], org={"team": "ops"})

# alg: none, unsigned.
tokens["alg_none"] = jwt.encode(dict(claims), None, algorithm="none", headers={"kid": "rsa"})

# HS256 signed with the RSA public key (PEM) as the HMAC secret: the key-confusion attack.
# PyJWT refuses to do this, so the token is assembled by hand.
pem = rsa_key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa"}).encode())
body = b64(json.dumps(claims).encode())
sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
tokens["hs256_rsa_pubkey"] = f"{head}.{body}.{b64(sig)}"

# A valid token whose payload was changed after signing.
h, p, s = tokens["RS256"].split(".")
forged = dict(claims, sub="admin")
tokens["tampered"] = f"{h}.{b64(json.dumps(forged).encode())}.{s}"

json.dump({"now": NOW, "issuer": ISS, "jwks": json.dumps(jwks),
           "other_jwks": json.dumps(other_jwks), "tokens": tokens}, sys.stdout)
