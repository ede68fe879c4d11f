/*
 * snapshot.h - instances keyed by object path, and the changes between two
 * such snapshots: what the WITHIN pollers (intrinsic.c) and the
 * repository's event source (repository_events.c) both diff.  Loop thread;
 * a snapshot is immutable once shared (snapshot_ref).
 */
#ifndef WMID_PROVIDERS_SNAPSHOT_H
#define WMID_PROVIDERS_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "wmievent.h"

/* Kinds of intrinsic instance events. */
#define WMID_KIND_CREATION     0x1u
#define WMID_KIND_DELETION     0x2u
#define WMID_KIND_MODIFICATION 0x4u

struct wmid_snapshot;

struct wmid_snapshot *snapshot_new(void);
struct wmid_snapshot *snapshot_ref(struct wmid_snapshot *s);
void snapshot_unref(struct wmid_snapshot *s);
/* Add @inst (a reference is taken), keyed by wmi_object_get_path; false
 * when it has no path or out of memory.  A second instance with the same
 * path replaces the first. */
bool snapshot_add(struct wmid_snapshot *s, wmi_object *inst);
/* The same, keyed by the path in lower case when @fold_case: the
 * repository's keys compare without case, as WMI compares string keys, so
 * that a change of case is a modification. */
bool snapshot_add_keyed(struct wmid_snapshot *s, wmi_object *inst, bool fold_case);
/* A copy of @s without the instance at @path (a new snapshot; NULL: out
 * of memory). */
struct wmid_snapshot *snapshot_without(const struct wmid_snapshot *s, const char *path);
size_t snapshot_count(const struct wmid_snapshot *s);
/* Call @fn with each instance (borrowed), in insertion order. */
void snapshot_foreach(const struct wmid_snapshot *s, void (*fn)(wmi_object *inst, void *arg), void *arg);
/* The same with the key each instance is kept under. */
void snapshot_foreach_keyed(const struct wmid_snapshot *s, void (*fn)(const char *path, wmi_object *inst, void *arg),
                            void *arg);
/* The instance with @path, or NULL.  Borrowed. */
wmi_object *snapshot_get(const struct wmid_snapshot *s, const char *path);

/* One change: @target is the instance now (the deleted one for a
 * deletion); @previous the old state of a modification, else NULL. */
typedef void (*wmid_change_fn)(unsigned kind, wmi_object *target, wmi_object *previous, void *arg);

/*
 * The changes from @prev to @cur, of the kinds in @kinds: creations and
 * modifications in @cur's order, then deletions in @prev's order.  An
 * instance is modified when its JSON differs (json_equal).  Returns the
 * number of changes reported.
 */
size_t snapshot_diff(const struct wmid_snapshot *prev, const struct wmid_snapshot *cur, unsigned kinds,
                     wmid_change_fn fn, void *arg);

#endif /* WMID_PROVIDERS_SNAPSHOT_H */
