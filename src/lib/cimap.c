/*
 * cimap.c - case-insensitive name -> pointer hash map (see cimap.h).
 */
#include "lib/cimap.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

static unsigned char
fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

size_t
wmi__cimap_hash(const char *key)
{
    /* FNV-1a over the ASCII-folded bytes. */
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= fold(*p);
        h *= 1099511628211ull;
    }
    return (size_t)h;
}

static bool
grow(cimap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct cimap_slot *ns = calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == NULL)
            continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return true;
}

bool
wmi__cimap_put(cimap *m, const char *key, void *value)
{
    if ((m->count + 1) * 4 > m->cap * 3 && !grow(m))
        return false;
    size_t h = wmi__cimap_hash(key);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key != NULL) {
        if (m->slots[j].hash == h && strcasecmp(m->slots[j].key, key) == 0) {
            m->slots[j].key = key;
            m->slots[j].value = value;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j].key = key;
    m->slots[j].hash = h;
    m->slots[j].value = value;
    m->count++;
    return true;
}

void *
wmi__cimap_get(const cimap *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t h = wmi__cimap_hash(key);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key != NULL) {
        if (m->slots[j].hash == h && strcasecmp(m->slots[j].key, key) == 0)
            return m->slots[j].value;
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void
wmi__cimap_free(cimap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
