/*
 * wmievent/status.h - WBEM status codes (HRESULT values) and their names.
 *
 * Every function in libwmievent, the plugin ABI and the control protocol
 * reports its outcome as a wmi_status: the 32-bit HRESULT value WMI itself
 * uses, so that an administrator who knows WMI recognises every error.
 * The names below are spelled exactly as in wbemcli.h / wbemprov.h and the
 * "WMI Error Constants" page; none is invented.
 */
#ifndef WMIEVENT_STATUS_H
#define WMIEVENT_STATUS_H

#include <stdarg.h>
#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A WBEM status: an HRESULT stored unsigned so that the documented hex
 * values (0x80041017) compare without sign tricks.  Bit 31 set means failure.
 */
typedef uint32_t wmi_status;

/* True when a status is a failure (severity bit set), as FAILED() in COM. */
#define WMI_FAILED(s) ((((wmi_status)(s)) & 0x80000000u) != 0)
/* True when a status is a success (S_OK, WBEM_S_FALSE, ...), as SUCCEEDED(). */
#define WMI_SUCCEEDED(s) (!WMI_FAILED(s))

/* ---- success and informational codes (WBEMSTATUS) ---- */
#define WBEM_S_NO_ERROR               ((wmi_status)0x00000000u)
#define WBEM_S_FALSE                  ((wmi_status)0x00000001u)
#define WBEM_S_ALREADY_EXISTS         ((wmi_status)0x00040001u)
#define WBEM_S_RESET_TO_DEFAULT       ((wmi_status)0x00040002u)
#define WBEM_S_DIFFERENT              ((wmi_status)0x00040003u)
#define WBEM_S_TIMEDOUT               ((wmi_status)0x00040004u)
#define WBEM_S_NO_MORE_DATA           ((wmi_status)0x00040005u)
#define WBEM_S_OPERATION_CANCELLED    ((wmi_status)0x00040006u)
#define WBEM_S_PENDING                ((wmi_status)0x00040007u)
#define WBEM_S_DUPLICATE_OBJECTS      ((wmi_status)0x00040008u)
#define WBEM_S_ACCESS_DENIED          ((wmi_status)0x00040009u)
#define WBEM_S_PARTIAL_RESULTS        ((wmi_status)0x00040010u)
#define WBEM_S_SOURCE_NOT_AVAILABLE   ((wmi_status)0x00040017u)
/* IWbemProviderInitSink::SetStatus: the provider is ready (same value as S_OK). */
#define WBEM_S_INITIALIZED            ((wmi_status)0x00000000u)
#define WBEM_S_LIMITED_SERVICE        ((wmi_status)0x00043001u)
#define WBEM_S_INDIRECTLY_UPDATED     ((wmi_status)0x00043002u)
#define WBEM_S_SUBJECT_TO_SDS         ((wmi_status)0x00043003u)

/* ---- errors (WBEMSTATUS) ---- */
#define WBEM_E_FAILED                         ((wmi_status)0x80041001u)
#define WBEM_E_NOT_FOUND                      ((wmi_status)0x80041002u)
#define WBEM_E_ACCESS_DENIED                  ((wmi_status)0x80041003u)
#define WBEM_E_PROVIDER_FAILURE               ((wmi_status)0x80041004u)
#define WBEM_E_TYPE_MISMATCH                  ((wmi_status)0x80041005u)
#define WBEM_E_OUT_OF_MEMORY                  ((wmi_status)0x80041006u)
#define WBEM_E_INVALID_CONTEXT                ((wmi_status)0x80041007u)
#define WBEM_E_INVALID_PARAMETER              ((wmi_status)0x80041008u)
#define WBEM_E_NOT_AVAILABLE                  ((wmi_status)0x80041009u)
#define WBEM_E_CRITICAL_ERROR                 ((wmi_status)0x8004100Au)
#define WBEM_E_INVALID_STREAM                 ((wmi_status)0x8004100Bu)
#define WBEM_E_NOT_SUPPORTED                  ((wmi_status)0x8004100Cu)
#define WBEM_E_INVALID_SUPERCLASS             ((wmi_status)0x8004100Du)
#define WBEM_E_INVALID_NAMESPACE              ((wmi_status)0x8004100Eu)
#define WBEM_E_INVALID_OBJECT                 ((wmi_status)0x8004100Fu)
#define WBEM_E_INVALID_CLASS                  ((wmi_status)0x80041010u)
#define WBEM_E_PROVIDER_NOT_FOUND             ((wmi_status)0x80041011u)
#define WBEM_E_INVALID_PROVIDER_REGISTRATION  ((wmi_status)0x80041012u)
#define WBEM_E_PROVIDER_LOAD_FAILURE          ((wmi_status)0x80041013u)
#define WBEM_E_INITIALIZATION_FAILURE         ((wmi_status)0x80041014u)
#define WBEM_E_TRANSPORT_FAILURE              ((wmi_status)0x80041015u)
#define WBEM_E_INVALID_OPERATION              ((wmi_status)0x80041016u)
#define WBEM_E_INVALID_QUERY                  ((wmi_status)0x80041017u)
#define WBEM_E_INVALID_QUERY_TYPE             ((wmi_status)0x80041018u)
#define WBEM_E_ALREADY_EXISTS                 ((wmi_status)0x80041019u)
#define WBEM_E_OVERRIDE_NOT_ALLOWED           ((wmi_status)0x8004101Au)
#define WBEM_E_PROPAGATED_QUALIFIER           ((wmi_status)0x8004101Bu)
#define WBEM_E_PROPAGATED_PROPERTY            ((wmi_status)0x8004101Cu)
#define WBEM_E_UNEXPECTED                     ((wmi_status)0x8004101Du)
#define WBEM_E_ILLEGAL_OPERATION              ((wmi_status)0x8004101Eu)
#define WBEM_E_CANNOT_BE_KEY                  ((wmi_status)0x8004101Fu)
#define WBEM_E_INCOMPLETE_CLASS               ((wmi_status)0x80041020u)
#define WBEM_E_INVALID_SYNTAX                 ((wmi_status)0x80041021u)
#define WBEM_E_NONDECORATED_OBJECT            ((wmi_status)0x80041022u)
#define WBEM_E_READ_ONLY                      ((wmi_status)0x80041023u)
#define WBEM_E_PROVIDER_NOT_CAPABLE           ((wmi_status)0x80041024u)
#define WBEM_E_CLASS_HAS_CHILDREN             ((wmi_status)0x80041025u)
#define WBEM_E_CLASS_HAS_INSTANCES            ((wmi_status)0x80041026u)
#define WBEM_E_QUERY_NOT_IMPLEMENTED          ((wmi_status)0x80041027u)
#define WBEM_E_ILLEGAL_NULL                   ((wmi_status)0x80041028u)
#define WBEM_E_INVALID_QUALIFIER_TYPE         ((wmi_status)0x80041029u)
#define WBEM_E_INVALID_PROPERTY_TYPE          ((wmi_status)0x8004102Au)
#define WBEM_E_VALUE_OUT_OF_RANGE             ((wmi_status)0x8004102Bu)
#define WBEM_E_CANNOT_BE_SINGLETON            ((wmi_status)0x8004102Cu)
#define WBEM_E_INVALID_CIM_TYPE               ((wmi_status)0x8004102Du)
#define WBEM_E_INVALID_METHOD                 ((wmi_status)0x8004102Eu)
#define WBEM_E_INVALID_METHOD_PARAMETERS      ((wmi_status)0x8004102Fu)
#define WBEM_E_SYSTEM_PROPERTY                ((wmi_status)0x80041030u)
#define WBEM_E_INVALID_PROPERTY               ((wmi_status)0x80041031u)
#define WBEM_E_CALL_CANCELLED                 ((wmi_status)0x80041032u)
#define WBEM_E_SHUTTING_DOWN                  ((wmi_status)0x80041033u)
#define WBEM_E_PROPAGATED_METHOD              ((wmi_status)0x80041034u)
#define WBEM_E_UNSUPPORTED_PARAMETER          ((wmi_status)0x80041035u)
#define WBEM_E_MISSING_PARAMETER_ID           ((wmi_status)0x80041036u)
#define WBEM_E_INVALID_PARAMETER_ID           ((wmi_status)0x80041037u)
#define WBEM_E_NONCONSECUTIVE_PARAMETER_IDS   ((wmi_status)0x80041038u)
#define WBEM_E_PARAMETER_ID_ON_RETVAL         ((wmi_status)0x80041039u)
#define WBEM_E_INVALID_OBJECT_PATH            ((wmi_status)0x8004103Au)
#define WBEM_E_OUT_OF_DISK_SPACE              ((wmi_status)0x8004103Bu)
#define WBEM_E_BUFFER_TOO_SMALL               ((wmi_status)0x8004103Cu)
#define WBEM_E_UNSUPPORTED_PUT_EXTENSION      ((wmi_status)0x8004103Du)
#define WBEM_E_UNKNOWN_OBJECT_TYPE            ((wmi_status)0x8004103Eu)
#define WBEM_E_UNKNOWN_PACKET_TYPE            ((wmi_status)0x8004103Fu)
#define WBEM_E_MARSHAL_VERSION_MISMATCH       ((wmi_status)0x80041040u)
#define WBEM_E_MARSHAL_INVALID_SIGNATURE      ((wmi_status)0x80041041u)
#define WBEM_E_INVALID_QUALIFIER              ((wmi_status)0x80041042u)
#define WBEM_E_INVALID_DUPLICATE_PARAMETER    ((wmi_status)0x80041043u)
#define WBEM_E_TOO_MUCH_DATA                  ((wmi_status)0x80041044u)
#define WBEM_E_SERVER_TOO_BUSY                ((wmi_status)0x80041045u)
#define WBEM_E_INVALID_FLAVOR                 ((wmi_status)0x80041046u)
#define WBEM_E_CIRCULAR_REFERENCE             ((wmi_status)0x80041047u)
#define WBEM_E_UNSUPPORTED_CLASS_UPDATE       ((wmi_status)0x80041048u)
#define WBEM_E_CANNOT_CHANGE_KEY_INHERITANCE  ((wmi_status)0x80041049u)
#define WBEM_E_CANNOT_CHANGE_INDEX_INHERITANCE ((wmi_status)0x80041050u)
#define WBEM_E_TOO_MANY_PROPERTIES            ((wmi_status)0x80041051u)
#define WBEM_E_UPDATE_TYPE_MISMATCH           ((wmi_status)0x80041052u)
#define WBEM_E_UPDATE_OVERRIDE_NOT_ALLOWED    ((wmi_status)0x80041053u)
#define WBEM_E_UPDATE_PROPAGATED_METHOD       ((wmi_status)0x80041054u)
#define WBEM_E_METHOD_NOT_IMPLEMENTED         ((wmi_status)0x80041055u)
#define WBEM_E_METHOD_DISABLED                ((wmi_status)0x80041056u)
#define WBEM_E_REFRESHER_BUSY                 ((wmi_status)0x80041057u)
#define WBEM_E_UNPARSABLE_QUERY               ((wmi_status)0x80041058u)
#define WBEM_E_NOT_EVENT_CLASS                ((wmi_status)0x80041059u)
#define WBEM_E_MISSING_GROUP_WITHIN           ((wmi_status)0x8004105Au)
#define WBEM_E_MISSING_AGGREGATION_LIST       ((wmi_status)0x8004105Bu)
#define WBEM_E_PROPERTY_NOT_AN_OBJECT         ((wmi_status)0x8004105Cu)
#define WBEM_E_AGGREGATING_BY_OBJECT          ((wmi_status)0x8004105Du)
#define WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY ((wmi_status)0x8004105Fu)
#define WBEM_E_BACKUP_RESTORE_WINMGMT_RUNNING ((wmi_status)0x80041060u)
#define WBEM_E_QUEUE_OVERFLOW                 ((wmi_status)0x80041061u)
#define WBEM_E_PRIVILEGE_NOT_HELD             ((wmi_status)0x80041062u)
#define WBEM_E_INVALID_OPERATOR               ((wmi_status)0x80041063u)
#define WBEM_E_LOCAL_CREDENTIALS              ((wmi_status)0x80041064u)
#define WBEM_E_CANNOT_BE_ABSTRACT             ((wmi_status)0x80041065u)
#define WBEM_E_AMENDED_OBJECT                 ((wmi_status)0x80041066u)
#define WBEM_E_CLIENT_TOO_SLOW                ((wmi_status)0x80041067u)
#define WBEM_E_NULL_SECURITY_DESCRIPTOR       ((wmi_status)0x80041068u)
#define WBEM_E_TIMED_OUT                      ((wmi_status)0x80041069u)
#define WBEM_E_INVALID_ASSOCIATION            ((wmi_status)0x8004106Au)
#define WBEM_E_AMBIGUOUS_OPERATION            ((wmi_status)0x8004106Bu)
#define WBEM_E_QUOTA_VIOLATION                ((wmi_status)0x8004106Cu)
#define WBEM_E_RESERVED_001                   ((wmi_status)0x8004106Du)
#define WBEM_E_RESERVED_002                   ((wmi_status)0x8004106Eu)
#define WBEM_E_UNSUPPORTED_LOCALE             ((wmi_status)0x8004106Fu)
#define WBEM_E_HANDLE_OUT_OF_DATE             ((wmi_status)0x80041070u)
#define WBEM_E_CONNECTION_FAILED              ((wmi_status)0x80041071u)
#define WBEM_E_INVALID_HANDLE_REQUEST         ((wmi_status)0x80041072u)
#define WBEM_E_PROPERTY_NAME_TOO_WIDE         ((wmi_status)0x80041073u)
#define WBEM_E_CLASS_NAME_TOO_WIDE            ((wmi_status)0x80041074u)
#define WBEM_E_METHOD_NAME_TOO_WIDE           ((wmi_status)0x80041075u)
#define WBEM_E_QUALIFIER_NAME_TOO_WIDE        ((wmi_status)0x80041076u)
#define WBEM_E_RERUN_COMMAND                  ((wmi_status)0x80041077u)
#define WBEM_E_DATABASE_VER_MISMATCH          ((wmi_status)0x80041078u)
#define WBEM_E_VETO_DELETE                    ((wmi_status)0x80041079u)
#define WBEM_E_VETO_PUT                       ((wmi_status)0x8004107Au)
#define WBEM_E_INVALID_LOCALE                 ((wmi_status)0x80041080u)
#define WBEM_E_PROVIDER_SUSPENDED             ((wmi_status)0x80041081u)
#define WBEM_E_SYNCHRONIZATION_REQUIRED       ((wmi_status)0x80041082u)
#define WBEM_E_NO_SCHEMA                      ((wmi_status)0x80041083u)
#define WBEM_E_PROVIDER_ALREADY_REGISTERED    ((wmi_status)0x80041084u)
#define WBEM_E_PROVIDER_NOT_REGISTERED        ((wmi_status)0x80041085u)
#define WBEM_E_FATAL_TRANSPORT_ERROR          ((wmi_status)0x80041086u)
#define WBEM_E_ENCRYPTED_CONNECTION_REQUIRED  ((wmi_status)0x80041087u)
#define WBEM_E_PROVIDER_TIMED_OUT             ((wmi_status)0x80041088u)
#define WBEM_E_NO_KEY                         ((wmi_status)0x80041089u)
#define WBEM_E_PROVIDER_DISABLED              ((wmi_status)0x8004108Au)

/* ---- event subsystem (WBEMESS) ---- */
#define WBEMESS_E_REGISTRATION_TOO_BROAD      ((wmi_status)0x80042001u)
#define WBEMESS_E_REGISTRATION_TOO_PRECISE    ((wmi_status)0x80042002u)
#define WBEMESS_E_AUTHZ_NOT_PRIVILEGED        ((wmi_status)0x80042003u)

/* ---- provider extras (WBEM_EXTRA_RETURN_CODES) ---- */
#define WBEM_E_RETRY_LATER                    ((wmi_status)0x80043001u)
#define WBEM_E_RESOURCE_CONTENTION            ((wmi_status)0x80043002u)

/* ---- MOF compiler (WBEMMOF, wbemcli.h; see wmievent/mof.h) ---- */
#define WBEMMOF_E_EXPECTED_QUALIFIER_NAME          ((wmi_status)0x80044001u)
#define WBEMMOF_E_EXPECTED_SEMI                    ((wmi_status)0x80044002u)
#define WBEMMOF_E_EXPECTED_OPEN_BRACE              ((wmi_status)0x80044003u)
#define WBEMMOF_E_EXPECTED_CLOSE_BRACE             ((wmi_status)0x80044004u)
#define WBEMMOF_E_EXPECTED_CLOSE_BRACKET           ((wmi_status)0x80044005u)
#define WBEMMOF_E_EXPECTED_CLOSE_PAREN             ((wmi_status)0x80044006u)
#define WBEMMOF_E_ILLEGAL_CONSTANT_VALUE           ((wmi_status)0x80044007u)
#define WBEMMOF_E_EXPECTED_TYPE_IDENTIFIER         ((wmi_status)0x80044008u)
#define WBEMMOF_E_EXPECTED_OPEN_PAREN              ((wmi_status)0x80044009u)
#define WBEMMOF_E_UNRECOGNIZED_TOKEN               ((wmi_status)0x8004400Au)
#define WBEMMOF_E_UNRECOGNIZED_TYPE                ((wmi_status)0x8004400Bu)
#define WBEMMOF_E_EXPECTED_PROPERTY_NAME           ((wmi_status)0x8004400Cu)
#define WBEMMOF_E_TYPEDEF_NOT_SUPPORTED            ((wmi_status)0x8004400Du)
#define WBEMMOF_E_UNEXPECTED_ALIAS                 ((wmi_status)0x8004400Eu)
#define WBEMMOF_E_UNEXPECTED_ARRAY_INIT            ((wmi_status)0x8004400Fu)
#define WBEMMOF_E_INVALID_AMENDMENT_SYNTAX         ((wmi_status)0x80044010u)
#define WBEMMOF_E_INVALID_DUPLICATE_AMENDMENT      ((wmi_status)0x80044011u)
#define WBEMMOF_E_INVALID_PRAGMA                   ((wmi_status)0x80044012u)
#define WBEMMOF_E_INVALID_NAMESPACE_SYNTAX         ((wmi_status)0x80044013u)
#define WBEMMOF_E_EXPECTED_CLASS_NAME              ((wmi_status)0x80044014u)
#define WBEMMOF_E_TYPE_MISMATCH                    ((wmi_status)0x80044015u)
#define WBEMMOF_E_EXPECTED_ALIAS_NAME              ((wmi_status)0x80044016u)
#define WBEMMOF_E_INVALID_CLASS_DECLARATION        ((wmi_status)0x80044017u)
#define WBEMMOF_E_INVALID_INSTANCE_DECLARATION     ((wmi_status)0x80044018u)
#define WBEMMOF_E_EXPECTED_DOLLAR                  ((wmi_status)0x80044019u)
#define WBEMMOF_E_CIMTYPE_QUALIFIER                ((wmi_status)0x8004401Au)
#define WBEMMOF_E_DUPLICATE_PROPERTY               ((wmi_status)0x8004401Bu)
#define WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION  ((wmi_status)0x8004401Cu)
#define WBEMMOF_E_OUT_OF_RANGE                     ((wmi_status)0x8004401Du)
#define WBEMMOF_E_INVALID_FILE                     ((wmi_status)0x8004401Eu)
#define WBEMMOF_E_ALIASES_IN_EMBEDDED              ((wmi_status)0x8004401Fu)
#define WBEMMOF_E_NULL_ARRAY_ELEM                  ((wmi_status)0x80044020u)
#define WBEMMOF_E_DUPLICATE_QUALIFIER              ((wmi_status)0x80044021u)
#define WBEMMOF_E_EXPECTED_FLAVOR_TYPE             ((wmi_status)0x80044022u)
#define WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES        ((wmi_status)0x80044023u)
#define WBEMMOF_E_MULTIPLE_ALIASES                 ((wmi_status)0x80044024u)
#define WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES2       ((wmi_status)0x80044025u)
#define WBEMMOF_E_NO_ARRAYS_RETURNED               ((wmi_status)0x80044026u)
#define WBEMMOF_E_MUST_BE_IN_OR_OUT                ((wmi_status)0x80044027u)
#define WBEMMOF_E_INVALID_FLAGS_SYNTAX             ((wmi_status)0x80044028u)
#define WBEMMOF_E_EXPECTED_BRACE_OR_BAD_TYPE       ((wmi_status)0x80044029u)
#define WBEMMOF_E_UNSUPPORTED_CIMV22_QUAL_VALUE    ((wmi_status)0x8004402Au)
#define WBEMMOF_E_UNSUPPORTED_CIMV22_DATA_TYPE     ((wmi_status)0x8004402Bu)
#define WBEMMOF_E_INVALID_DELETEINSTANCE_SYNTAX    ((wmi_status)0x8004402Cu)
#define WBEMMOF_E_INVALID_QUALIFIER_SYNTAX         ((wmi_status)0x8004402Du)
#define WBEMMOF_E_QUALIFIER_USED_OUTSIDE_SCOPE     ((wmi_status)0x8004402Eu)
#define WBEMMOF_E_ERROR_CREATING_TEMP_FILE         ((wmi_status)0x8004402Fu)
#define WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE       ((wmi_status)0x80044030u)
#define WBEMMOF_E_INVALID_DELETECLASS_SYNTAX       ((wmi_status)0x80044031u)

/*
 * wmi_status_name - the symbolic name of a status code.
 *
 * Returns a static string such as "WBEM_E_INVALID_QUERY" for 0x80041017, or
 * NULL when the code is not one wmieventd knows (callers then print the hex
 * value).  Where two names share a value (WBEM_S_NO_ERROR and
 * WBEM_S_INITIALIZED), the general one is returned.  Thread-safe; no
 * allocation.
 */
WMI_EXTERN const char *wmi_status_name(wmi_status status);

/*
 * wmi_status_message - a one-line English description of a status code,
 * in the spirit of WMI's "WMI Error Constants" page.
 *
 * Returns a static string; never NULL ("Unknown status" for unknown codes).
 * Thread-safe; no allocation.
 */
WMI_EXTERN const char *wmi_status_message(wmi_status status);

/*
 * wmi_status_from_name - the inverse of wmi_status_name.
 *
 * Looks up @name (case-sensitive, e.g. "WBEM_E_NOT_FOUND") and stores its
 * value in *@out.  Returns WBEM_S_NO_ERROR, or WBEM_E_NOT_FOUND when the
 * name is unknown.  Thread-safe.
 */
WMI_EXTERN wmi_status wmi_status_from_name(const char *name, wmi_status *out);

/*
 * struct wmi_error - where and why an operation failed.
 *
 * Filled by parsers and loaders (JSON objects, WQL, templates, config) in
 * the manner of jansson's json_error_t: a caller-owned struct, written only
 * on failure.  @line and @column are 1-based; 0 means "not applicable".
 * @source names the file, or the object and property, the error is about;
 * @text is the human-readable reason, without the status name (print that
 * with wmi_status_name(@status)).
 */
typedef struct wmi_error {
    wmi_status status;
    int line;
    int column;
    char source[256];
    char text[320];
} wmi_error;

/* Marks a printf-like function so that compilers check its calls. */
#if defined(__GNUC__) || defined(__clang__)
#define WMI_PRINTF_LIKE(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define WMI_PRINTF_LIKE(fmt_index, first_arg)
#endif

/*
 * wmi_error_set - fill every field of *@err: the one way libwmievent, the
 * daemon and plugins report where and why something failed.
 *
 *   status  @status
 *   line    @line, 1-based; 0 when the error has no line (not a file, or
 *           the whole file); a negative value is stored as 0
 *   column  @column, 1-based (a byte offset in the line or query text
 *           plus one); 0 when not applicable; negative stored as 0
 *   source  a copy of @source: the file, or the object and property, the
 *           error is about; NULL stores ""
 *   text    the message printf-formatted from @fmt; NULL stores ""
 *
 * Both strings are cut to fit their arrays (255 and 319 bytes and a NUL)
 * as snprintf cuts them, by bytes.  @source and the arguments may point
 * into *@err itself (to wrap an error with more context): they are read
 * before anything is written.
 *
 * @err is borrowed and may be NULL, for callers whose caller passed none:
 * then nothing is written.  Returns @status, so that a failing path can
 * end in `return wmi_error_set(err, WBEM_E_..., ...);`.  Thread-safe as
 * long as no other thread uses *@err.
 */
WMI_EXTERN wmi_status wmi_error_set(wmi_error *err, wmi_status status, const char *source, int line,
                                    int column, const char *fmt, ...) WMI_PRINTF_LIKE(6, 7);

/* wmi_error_setv - wmi_error_set with a va_list (consumed as vsnprintf does). */
WMI_EXTERN wmi_status wmi_error_setv(wmi_error *err, wmi_status status, const char *source, int line,
                                     int column, const char *fmt, va_list ap) WMI_PRINTF_LIKE(6, 0);

#ifdef __cplusplus
}
#endif
#endif /* WMIEVENT_STATUS_H */
