/*
 * fuzz_fernet.c: legacy Fernet tokens read from a database. Mode byte 0:
 * the input is the token text. Mode 1: the input is the token body
 * (version, timestamp, IV, ciphertext), signed here with the right HMAC so
 * that decryption and padding checks are reached with arbitrary ciphertext.
 */
#include "fernet.h"
#include "key.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char buf[4096 + 32];
	char token[sodium_base64_ENCODED_LEN(sizeof(buf), sodium_base64_VARIANT_URLSAFE)];
	unsigned int maclen = 0;
	char *plain = NULL;
	size_t plain_len = 0;
	int rc;

	if (size < 1 || size > 4096)
		return 0;
	if (data[0] == 0) {
		rc = hl_fernet__decrypt(&plain, &plain_len, key, (const char *)data + 1, size - 1);
	} else {
		memcpy(buf, data + 1, size - 1);
		if (size - 1 >= 1)
			buf[0] = 0x80;
		HMAC(EVP_sha256(), key, 16, buf, size - 1, buf + size - 1, &maclen);
		sodium_bin2base64(token, sizeof(token), buf, size - 1 + maclen, sodium_base64_VARIANT_URLSAFE);
		rc = hl_fernet__decrypt(&plain, &plain_len, key, token, strlen(token));
	}
	if (rc == 0) {
		if (!plain || plain[plain_len] != '\0')
			abort();
		hl_secret__free(plain);
	} else if (plain || (rc != HL_ECORRUPT && rc != HL_EINTEGRITY && rc != HL_ENOMEM)) {
		abort();
	}
	return 0;
}
