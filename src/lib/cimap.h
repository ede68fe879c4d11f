/*
 * cimap.h - a small open-addressing hash map from case-insensitive ASCII
 * names to pointers, internal to libwmievent.  Class and property names
 * in WMI compare case-insensitively; this keeps the per-event lookups of
 * a class by "__CLASS" and of a property by name O(1).
 */
#ifndef WMI_CIMAP_H
#define WMI_CIMAP_H

#include <stdbool.h>
#include <stddef.h>

struct cimap_slot {
    const char *key;   /* borrowed: owned by the value */
    size_t hash;
    void *value;
};

typedef struct cimap {
    struct cimap_slot *slots;
    size_t cap;        /* power of two, or 0 */
    size_t count;
} cimap;

size_t wmi__cimap_hash(const char *key);
/* Insert or replace; @key must live as long as the entry.  false on ENOMEM. */
bool wmi__cimap_put(cimap *m, const char *key, void *value);
void *wmi__cimap_get(const cimap *m, const char *key);
void wmi__cimap_free(cimap *m);

#endif
