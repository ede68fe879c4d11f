/*
 * wmievent/wql.h - WQL event queries: parse, inspect, evaluate.
 *
 * The grammar (docs/wql.md has the whole of it):
 *
 *   SELECT * | prop[, prop...] FROM class
 *     [WITHIN seconds]
 *     [WHERE condition]
 *     [GROUP WITHIN seconds [BY prop[, prop...]] [HAVING condition]]
 *
 * Conditions use = != <> < > <= >=, AND, OR, NOT (NOT binds tightest, then
 * AND, then OR), parentheses, IS [NOT] NULL, ISA 'Class', LIKE with %, _,
 * [set], [a-z] and [^set], dotted paths into embedded objects
 * (TargetInstance.Name), and string ('x' or "x", backslash escapes),
 * integer, real, TRUE/FALSE and NULL literals.  Keywords, class and
 * property names and string comparisons are case-insensitive.
 *
 * Evaluation follows WMI's NULL semantics: a comparison with a NULL or
 * absent value is false (so NOT of it is true), only IS [NOT] NULL tests
 * for NULL.
 *
 * Mirrors the query side of IWbemServices::ExecNotificationQuery and of
 * __EventFilter.Query.  A parsed query is immutable and may be evaluated
 * from any number of threads at once.
 */
#ifndef WMIEVENT_WQL_H
#define WMIEVENT_WQL_H

#include <stdbool.h>
#include <stddef.h>

#include "export.h"
#include "object.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A parsed WQL event query.  Opaque, immutable once parsed. */
typedef struct wmi_query wmi_query;

/* Longest query text accepted, in bytes (WBEM_MAX_QUERY). */
#define WMI_MAX_QUERY 16384

/*
 * Most comparison terms (=, <>, <, >, <=, >=, LIKE, ISA, IS [NOT] NULL) in
 * the WHERE and HAVING conditions of one query together.  Every event of
 * the FROM class is tested against the filter, so this bounds the cost of
 * one filter per event; real filters use a handful (docs/wql.md).
 */
#define WMI_MAX_QUERY_TERMS 1024

/*
 * wmi_query_parse - parse and validate a WQL event query.
 *
 * @text is a NUL-terminated UTF-8 query (borrowed).  @schema (borrowed;
 * it must outlive the query) is used to check the FROM class and the
 * names in the query: pass NULL to check syntax only, with no class
 * knowledge (then ISA and FROM are not checked).
 *
 * On success *@out is a new query (free with wmi_query_free).  On failure
 * *@out is NULL and @err (if not NULL) holds the status, @err->column
 * (1-based byte offset into @text where the problem was found) and a
 * message naming the offending token.  Statuses:
 *   WBEM_E_INVALID_QUERY           syntax error (unexpected token, missing
 *                                  FROM, unterminated string, trailing text);
 *                                  with a schema, a datetime property
 *                                  compared with a constant that is not a
 *                                  datetime, or one with '*' wildcards
 *   WBEM_E_UNPARSABLE_QUERY        not a SELECT statement at all, or empty,
 *                                  or longer than WMI_MAX_QUERY (also once
 *                                  normalised, see wmi_query_to_string)
 *   WBEM_E_INVALID_OPERATOR        an operator misused: LIKE on a
 *                                  non-string, <, > on booleans, IS with a
 *                                  non-NULL operand, ...
 *   WBEM_E_INVALID_CLASS           FROM names a class the schema lacks
 *   WBEM_E_NOT_EVENT_CLASS         FROM names a class that is not an __Event
 *   WBEM_E_INVALID_PROPERTY        WHERE or SELECT names a property the FROM
 *                                  class does not have
 *   WBEM_E_PROPERTY_NOT_AN_OBJECT  a dotted path through a non-object
 *   WBEM_E_MISSING_GROUP_WITHIN    BY or HAVING without GROUP WITHIN
 *   WBEM_E_AGGREGATING_BY_OBJECT   GROUP BY an object property with no path
 *   WBEM_E_MISSING_AGGREGATION_LIST  BY with no property after it
 *   WBEM_E_QUOTA_VIOLATION         parentheses/NOT nested over 256 deep
 *                                  (also once normalised: each NOT and
 *                                  comparison gains its own parentheses),
 *                                  or more than WMI_MAX_QUERY_TERMS
 *                                  comparison terms (column of the first
 *                                  term over the quota)
 *   WBEM_E_INVALID_PARAMETER       @text or @out is NULL
 *   WBEM_E_OUT_OF_MEMORY
 */
WMI_EXTERN wmi_status wmi_query_parse(const char *text, const wmi_schema *schema,
                           wmi_query **out, wmi_error *err);

/* wmi_query_free - release a query.  NULL is ok. */
WMI_EXTERN void wmi_query_free(wmi_query *query);

/*
 * wmi_query_evaluate - does @event satisfy the query: is it an instance of
 * the FROM class (or a subclass) and does the WHERE condition hold?
 * Returns true or false; never fails (type clashes evaluate false, as in
 * WMI).  @event is borrowed.  Thread-safe.
 */
WMI_EXTERN bool wmi_query_evaluate(const wmi_query *query, const wmi_object *event);

/*
 * wmi_query_evaluate_where - the WHERE condition alone against @event,
 * whatever its class (for tools that test a condition offline).
 */
WMI_EXTERN bool wmi_query_evaluate_where(const wmi_query *query, const wmi_object *event);

/*
 * wmi_query_evaluate_having - the HAVING condition against @aggregate, the
 * __AggregateEvent built for one GROUP window (NumberOfEvents set).
 * True when the query has no HAVING.  Thread-safe.
 */
WMI_EXTERN bool wmi_query_evaluate_having(const wmi_query *query, const wmi_object *aggregate);

/*
 * GROUP WITHIN support: what the daemon's group windows and
 * `wmieventctl wql eval` use to build __AggregateEvent (docs/wql.md).
 *
 * wmi_query_group_values - the values of @event at the query's GROUP BY
 * paths, as a new JSON array (one element per BY property, in BY order;
 * JSON null where the event has none).  Two events fall in the same group
 * when these arrays are equal.  NULL when out of memory.
 */
WMI_EXTERN json_t *wmi_query_group_values(const wmi_query *query, const wmi_object *event);

/*
 * wmi_query_define_aggregate_class - add to @schema the class
 * @class_name, derived from __AggregateEvent, that carries the query's BY
 * properties (BY Severity: a property Severity of the FROM class's type;
 * BY TargetInstance.Name: an object property TargetInstance).  Returns
 * WBEM_S_NO_ERROR, WBEM_S_FALSE when @class_name exists already (nothing
 * changed), or a status of wmi_schema_add_class_json.  Not thread-safe.
 */
WMI_EXTERN wmi_status wmi_query_define_aggregate_class(const wmi_query *query, wmi_schema *schema,
                                            const char *class_name, wmi_error *err);

/*
 * wmi_query_make_aggregate - the aggregate event of one closed group
 * window: an instance of @class_name (from
 * wmi_query_define_aggregate_class; NULL for plain __AggregateEvent, when
 * the query has no BY) with NumberOfEvents = @count, Representative = a
 * copy of @representative (borrowed), and the BY values @by_values (from
 * wmi_query_group_values, borrowed) at their paths.  *@out is a new
 * reference.  Returns WBEM_S_NO_ERROR or a status of wmi_object_from_json.
 */
WMI_EXTERN wmi_status wmi_query_make_aggregate(const wmi_query *query, const wmi_schema *schema,
                                    const char *class_name, const wmi_object *representative,
                                    const json_t *by_values, uint64_t count, wmi_object **out,
                                    wmi_error *err);

/*
 * wmi_query_project - the event as the select list delivers it (the
 * projection WMI applies before a consumer sees the event).
 *
 * SELECT *: *@out is a new reference to @event itself.  SELECT A, B: *@out
 * is a new instance of @event's class holding the selected properties that
 * @event sets, plus what WMI always keeps (__CLASS; the other system
 * properties derive from the class); every other property of the class
 * reads NULL (not its class default), as in WMI.  A dotted path keeps
 * the whole embedded object it starts with: SELECT TargetInstance.Name
 * delivers all of TargetInstance, as WMI does.  Selected names the event's
 * class lacks (a query parsed without a schema, or on a subclass) are
 * skipped.  @event is borrowed.  Returns WBEM_S_NO_ERROR,
 * WBEM_E_INVALID_PARAMETER (a NULL argument) or WBEM_E_OUT_OF_MEMORY.
 * Thread-safe.
 */
WMI_EXTERN wmi_status wmi_query_project(const wmi_query *q, const wmi_object *event, wmi_object **out);

/*
 * wmi_query_isa_target - the class named by "TargetInstance ISA 'X'" in
 * the top-level AND chain of WHERE (WHERE TargetInstance ISA 'X' AND ...,
 * parenthesised AND groups included; not under OR or NOT), as written.
 * When there are several, the most derived one when the query's schema
 * knows them (ISA both 'CIM_Process' and 'Win32_Process': Win32_Process),
 * else the first.  NULL when there is none.  This is the class an
 * intrinsic event query polls.  Borrowed, valid while the query lives.
 */
WMI_EXTERN const char *wmi_query_isa_target(const wmi_query *q);

/* The FROM class name as written.  Borrowed, valid while the query lives. */
WMI_EXTERN const char *wmi_query_class(const wmi_query *query);

/*
 * wmi_query_within - the WITHIN polling interval in seconds, or a negative
 * value when the query has none.
 */
WMI_EXTERN double wmi_query_within(const wmi_query *query);

/*
 * wmi_query_group_within - the GROUP WITHIN window in seconds, or a
 * negative value when the query has no GROUP clause.
 */
WMI_EXTERN double wmi_query_group_within(const wmi_query *query);

/* Number of GROUP BY properties (0 without BY). */
WMI_EXTERN size_t wmi_query_group_by_count(const wmi_query *query);

/* The @index-th GROUP BY property path ("TargetInstance.Name").  Borrowed. */
WMI_EXTERN const char *wmi_query_group_by_at(const wmi_query *query, size_t index);

/* True when the query has a HAVING condition. */
WMI_EXTERN bool wmi_query_has_having(const wmi_query *query);

/*
 * wmi_query_equalities - the string constants a WHERE pins @path to: the
 * first term of the top-level AND chain (parenthesised AND groups
 * included; not under OR or NOT) that is `path = 'v'` (either way round),
 * or an OR of such equalities, e.g. for
 *   TargetInstance ISA 'CIM_DataFile' AND
 *   (TargetInstance.Path = '/a/' OR TargetInstance.Path = '/b/')
 * the values "/a/" and "/b/".  @path compares case-insensitively.  Returns
 * the count, with *@values a new malloc'd array (free it; the strings are
 * borrowed from the query); 0 with *@values NULL when no term narrows
 * every event that way.  Instance providers use it to learn what a query
 * asks for (the directories of a CIM_DataFile query).  Thread-safe.
 */
WMI_EXTERN size_t wmi_query_equalities(const wmi_query *q, const char *path, const char ***values);

/* Number of selected properties; 0 means SELECT *. */
WMI_EXTERN size_t wmi_query_select_count(const wmi_query *query);

/* The @index-th selected property.  Borrowed. */
WMI_EXTERN const char *wmi_query_select_at(const wmi_query *query, size_t index);

/*
 * wmi_query_to_string - the query in normalised form: keywords upper case,
 * single spaces, string literals double-quoted, fully parenthesised
 * conditions (every predicate, NOT and chain of one operator in its own
 * parentheses: ((a = 1) AND (b = 2) AND (c = 3))), "= NULL" as "IS NULL",
 * "!=" as "<>", numbers in canonical form, e.g.
 *   SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE
 *   ((TargetInstance ISA "Win32_Process") AND (TargetInstance.Name = "sshd"))
 * Parsing the result gives the same query again.
 * Returns a new malloc'd string (free it), or NULL when out of memory.
 */
WMI_EXTERN char *wmi_query_to_string(const wmi_query *query);

/*
 * wmi_like_match - WQL LIKE: does @subject match @pattern (% any run, _ one
 * character, [abc] a set, [a-z] a range, [^...] a negated set; no escape
 * character, a literal % or _ is written [%] or [_]).  Case-insensitive;
 * characters are UTF-8 code points.  Thread-safe.
 */
WMI_EXTERN bool wmi_like_match(const char *pattern, const char *subject);

#ifdef __cplusplus
}
#endif
#endif /* WMIEVENT_WQL_H */
