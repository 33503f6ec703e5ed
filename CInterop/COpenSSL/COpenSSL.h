/* The OpenSSL headers the plugin's TLS client needs (libssl-dev). */
#ifndef TRADETAP_COPENSSL_H
#define TRADETAP_COPENSSL_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#endif
