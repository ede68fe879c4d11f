/*
 * snapshot.c - instances keyed by object path (an open-addressing index
 * over an array kept in insertion order), and the diff of two snapshots
 * into creations, modifications and deletions.  See providers.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/providers/providers.h"

struct snap_entry {
    char *path;
    wmi_object *obj;
    uint64_t hash;
};

struct wmid_snapshot {
    unsigned refs;
    struct snap_entry *entries;  /* insertion order */
    size_t n, cap;
    uint32_t *index;             /* entry + 1; 0 = empty */
    size_t index_cap;
};

static uint64_t
str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

struct wmid_snapshot *
snapshot_new(void)
{
    struct wmid_snapshot *s = calloc(1, sizeof *s);
    if (s != NULL)
        s->refs = 1;
    return s;
}

struct wmid_snapshot *
snapshot_ref(struct wmid_snapshot *s)
{
    s->refs++;
    return s;
}

void
snapshot_unref(struct wmid_snapshot *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].path);
        wmi_object_unref(s->entries[i].obj);
    }
    free(s->entries);
    free(s->index);
    free(s);
}

size_t
snapshot_count(const struct wmid_snapshot *s)
{
    return s->n;
}

/* The index slot for @path (holding it, or the empty slot to put it in). */
static uint32_t *
snap_slot(const struct wmid_snapshot *s, const char *path, uint64_t h)
{
    size_t mask = s->index_cap - 1;
    for (size_t j = (size_t)h & mask;; j = (j + 1) & mask) {
        uint32_t e = s->index[j];
        if (e == 0)
            return &s->index[j];
        const struct snap_entry *en = &s->entries[e - 1];
        if (en->hash == h && strcmp(en->path, path) == 0)
            return &s->index[j];
    }
}

static bool
snap_grow_index(struct wmid_snapshot *s)
{
    size_t ncap = s->index_cap ? s->index_cap * 2 : 64;
    uint32_t *ni = calloc(ncap, sizeof *ni);
    if (ni == NULL)
        return false;
    free(s->index);
    s->index = ni;
    s->index_cap = ncap;
    for (size_t i = 0; i < s->n; i++)
        *snap_slot(s, s->entries[i].path, s->entries[i].hash) = (uint32_t)(i + 1);
    return true;
}

bool
snapshot_add(struct wmid_snapshot *s, wmi_object *inst)
{
    return snapshot_add_keyed(s, inst, false);
}

bool
snapshot_add_keyed(struct wmid_snapshot *s, wmi_object *inst, bool fold_case)
{
    char *path = wmi_object_get_path(inst);
    if (path == NULL)
        return false;
    for (char *p = path; fold_case && *p != '\0'; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if ((s->n + 1) * 2 > s->index_cap && !snap_grow_index(s)) {
        free(path);
        return false;
    }
    uint64_t h = str_hash(path);
    uint32_t *slot = snap_slot(s, path, h);
    if (*slot != 0) {
        struct snap_entry *en = &s->entries[*slot - 1];
        wmi_object_unref(en->obj);
        en->obj = wmi_object_ref(inst);
        free(path);
        return true;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        struct snap_entry *ne = realloc(s->entries, ncap * sizeof *ne);
        if (ne == NULL) {
            free(path);
            return false;
        }
        s->entries = ne;
        s->cap = ncap;
    }
    s->entries[s->n] = (struct snap_entry){path, wmi_object_ref(inst), h};
    *slot = (uint32_t)(++s->n);
    return true;
}

static struct snap_entry *
snap_find(const struct wmid_snapshot *s, const char *path, uint64_t h)
{
    if (s->index_cap == 0)
        return NULL;
    uint32_t e = *snap_slot(s, path, h);
    return e ? &s->entries[e - 1] : NULL;
}

wmi_object *
snapshot_get(const struct wmid_snapshot *s, const char *path)
{
    struct snap_entry *e = snap_find(s, path, str_hash(path));
    return e ? e->obj : NULL;
}

void
snapshot_foreach(const struct wmid_snapshot *s, void (*fn)(wmi_object *inst, void *arg), void *arg)
{
    for (size_t i = 0; i < s->n; i++)
        fn(s->entries[i].obj, arg);
}

void
snapshot_foreach_keyed(const struct wmid_snapshot *s, void (*fn)(const char *path, wmi_object *inst, void *arg),
                       void *arg)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        fn(s->entries[i].path, s->entries[i].obj, arg);
}

size_t
snapshot_diff(const struct wmid_snapshot *prev, const struct wmid_snapshot *cur, unsigned kinds,
              wmid_change_fn fn, void *arg)
{
    size_t changes = 0;
    if (kinds & (WMID_KIND_CREATION | WMID_KIND_MODIFICATION)) {
        for (size_t i = 0; i < cur->n; i++) {
            const struct snap_entry *c = &cur->entries[i];
            const struct snap_entry *p = snap_find(prev, c->path, c->hash);
            if (p == NULL) {
                if (kinds & WMID_KIND_CREATION) {
                    fn(WMID_KIND_CREATION, c->obj, NULL, arg);
                    changes++;
                }
            } else if ((kinds & WMID_KIND_MODIFICATION) && p->obj != c->obj &&
                       !json_equal((json_t *)wmi_object_json(p->obj), (json_t *)wmi_object_json(c->obj))) {
                fn(WMID_KIND_MODIFICATION, c->obj, p->obj, arg);
                changes++;
            }
        }
    }
    if (kinds & WMID_KIND_DELETION) {
        for (size_t i = 0; i < prev->n; i++) {
            const struct snap_entry *p = &prev->entries[i];
            if (snap_find(cur, p->path, p->hash) == NULL) {
                fn(WMID_KIND_DELETION, p->obj, NULL, arg);
                changes++;
            }
        }
    }
    return changes;
}

/* A copy of @s without @path (a new snapshot; NULL out of memory). */
struct wmid_snapshot *
snapshot_without(const struct wmid_snapshot *s, const char *path)
{
    struct wmid_snapshot *out = snapshot_new();
    for (size_t i = 0; out != NULL && i < s->n; i++)
        if (strcmp(s->entries[i].path, path) != 0)
            snapshot_add(out, s->entries[i].obj);
    return out;
}
