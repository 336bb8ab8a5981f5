#pragma once
// Owning pointers for the OpenSSL objects the tls/ sources use; private to tls/.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace waop::tls {

// unique_ptr deleter calling OpenSSL's free function `Free`.
template <auto Free>
struct OpenSslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <class T, auto Free>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<Free>>;

using BioPtr = OpenSslPtr<BIO, &BIO_free_all>;
using PkeyPtr = OpenSslPtr<EVP_PKEY, &EVP_PKEY_free>;
using X509Ptr = OpenSslPtr<X509, &X509_free>;
using X509StorePtr = OpenSslPtr<X509_STORE, &X509_STORE_free>;
using X509StoreCtxPtr = OpenSslPtr<X509_STORE_CTX, &X509_STORE_CTX_free>;
using X509ExtensionPtr = OpenSslPtr<X509_EXTENSION, &X509_EXTENSION_free>;
using BignumPtr = OpenSslPtr<BIGNUM, &BN_free>;
using GeneralNamesPtr = OpenSslPtr<GENERAL_NAMES, &GENERAL_NAMES_free>;

}  // namespace waop::tls
