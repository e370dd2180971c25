/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "nonces.h"
#include "util.h"

#define BUCKETS 4096u

struct slot {
        uint8_t nonce[VF_NONCE_SIZE];
        uint64_t expires;
        uint64_t issued; /* the book's issue counter: the oldest is the smallest */
        bool valid;
        bool used;
};

struct gateway_nonces {
        struct gateway_nonces *next;
        char id[65];
        struct slot slots[VF_NONCES_OUTSTANDING];
};

struct vf_nonces {
        pthread_mutex_t lock;
        uint64_t issued;
        size_t n_gateways;
        struct gateway_nonces *buckets[BUCKETS];
};

int vf_nonces_new(struct vf_nonces **ret)
{
        struct vf_nonces *n = calloc(1, sizeof(*n));

        if (!n)
                return -ENOMEM;
        pthread_mutex_init(&n->lock, NULL);
        *ret = n;
        return 0;
}

void vf_nonces_free(struct vf_nonces *n)
{
        if (!n)
                return;
        for (size_t i = 0; i < BUCKETS; i++)
                while (n->buckets[i]) {
                        struct gateway_nonces *g = n->buckets[i];

                        n->buckets[i] = g->next;
                        OPENSSL_cleanse(g, sizeof(*g));
                        free(g);
                }
        pthread_mutex_destroy(&n->lock);
        free(n);
}

int vf_nonce_make(uint64_t expires, uint8_t ret[static VF_NONCE_SIZE])
{
        for (int i = 0; i < 8; i++)
                ret[i] = (uint8_t)(expires >> (56 - 8 * i));
        return vf_random_bytes(ret + 8, VF_NONCE_SIZE - 8);
}

static struct gateway_nonces **slot_of(struct vf_nonces *n, const char *id)
{
        uint32_t h = 2166136261u; /* FNV-1a */
        struct gateway_nonces **p;

        for (const char *c = id; *c; c++)
                h = (h ^ (uint8_t)*c) * 16777619u;
        for (p = &n->buckets[h & (BUCKETS - 1)]; *p; p = &(*p)->next)
                if (strcmp((*p)->id, id) == 0)
                        break;
        return p;
}

/* The slot a new nonce takes: a free, used or expired one, else the oldest unused one (forgotten). */
static struct slot *slot_for_new(struct gateway_nonces *g, uint64_t now)
{
        struct slot *oldest = &g->slots[0];

        for (size_t i = 0; i < VF_NONCES_OUTSTANDING; i++) {
                struct slot *s = &g->slots[i];

                if (!s->valid || s->used || s->expires < now)
                        return s;
                if (s->issued < oldest->issued)
                        oldest = s;
        }
        return oldest;
}

int vf_nonces_issue(struct vf_nonces *n, const char *gateway_id, const uint8_t nonce[static VF_NONCE_SIZE],
                    uint64_t now, uint64_t expires)
{
        struct gateway_nonces **p, *g;
        struct slot *s;
        int r = 0;

        if (strlen(gateway_id) >= sizeof(g->id))
                return -EINVAL;
        pthread_mutex_lock(&n->lock);
        p = slot_of(n, gateway_id);
        g = *p;
        if (!g) {
                g = calloc(1, sizeof(*g));
                if (!g) {
                        r = -ENOMEM;
                        goto out;
                }
                strcpy(g->id, gateway_id);
                *p = g;
                n->n_gateways++;
        }
        s = slot_for_new(g, now);
        memcpy(s->nonce, nonce, VF_NONCE_SIZE);
        s->expires = expires;
        s->issued = ++n->issued;
        s->valid = true;
        s->used = false;
out:
        pthread_mutex_unlock(&n->lock);
        return r;
}

enum vf_nonce_result vf_nonces_use(struct vf_nonces *n, const char *gateway_id, const uint8_t *nonce, uint64_t now)
{
        enum vf_nonce_result result = VF_NONCE_UNKNOWN;
        struct gateway_nonces *g;

        pthread_mutex_lock(&n->lock);
        g = *slot_of(n, gateway_id);
        for (size_t i = 0; g && i < VF_NONCES_OUTSTANDING; i++) {
                struct slot *s = &g->slots[i];

                if (!s->valid || CRYPTO_memcmp(s->nonce, nonce, VF_NONCE_SIZE) != 0)
                        continue;
                result = s->used ? VF_NONCE_REUSED : s->expires < now ? VF_NONCE_EXPIRED : VF_NONCE_OK;
                s->used = true;
                break;
        }
        pthread_mutex_unlock(&n->lock);
        return result;
}

void vf_nonces_forget(struct vf_nonces *n, const char *gateway_id)
{
        struct gateway_nonces **p, *g;

        pthread_mutex_lock(&n->lock);
        p = slot_of(n, gateway_id);
        g = *p;
        if (g) {
                *p = g->next;
                n->n_gateways--;
                free(g);
        }
        pthread_mutex_unlock(&n->lock);
}

static bool all_expired(const struct gateway_nonces *g, uint64_t before)
{
        for (size_t i = 0; i < VF_NONCES_OUTSTANDING; i++)
                if (g->slots[i].valid && g->slots[i].expires >= before)
                        return false;
        return true;
}

void vf_nonces_prune(struct vf_nonces *n, uint64_t before)
{
        pthread_mutex_lock(&n->lock);
        for (size_t i = 0; i < BUCKETS; i++)
                for (struct gateway_nonces **p = &n->buckets[i]; *p;) {
                        struct gateway_nonces *g = *p;

                        if (!all_expired(g, before)) {
                                p = &g->next;
                                continue;
                        }
                        *p = g->next;
                        n->n_gateways--;
                        free(g);
                }
        pthread_mutex_unlock(&n->lock);
}

size_t vf_nonces_count(struct vf_nonces *n)
{
        size_t count = 0;

        pthread_mutex_lock(&n->lock);
        for (size_t i = 0; i < BUCKETS; i++)
                for (struct gateway_nonces *g = n->buckets[i]; g; g = g->next)
                        for (size_t k = 0; k < VF_NONCES_OUTSTANDING; k++)
                                count += g->slots[k].valid;
        pthread_mutex_unlock(&n->lock);
        return count;
}
