/*
 * status.c - names and messages of WBEM status codes (see status.h).
 * Generated once from status.h; keep the table sorted by value for bsearch.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wmievent/status.h"

struct status_entry {
    wmi_status value;
    const char *name;
    const char *message;
};

static const struct status_entry status_table[] = {
    {0x00000000u, "WBEM_S_NO_ERROR", "The call succeeded"},
    {0x00000001u, "WBEM_S_FALSE", "The call succeeded; the answer is false or no value was returned"},
    {0x00040001u, "WBEM_S_ALREADY_EXISTS", "The object already exists"},
    {0x00040002u, "WBEM_S_RESET_TO_DEFAULT", "Reset to default"},
    {0x00040003u, "WBEM_S_DIFFERENT", "Different"},
    {0x00040004u, "WBEM_S_TIMEDOUT", "The call timed out"},
    {0x00040005u, "WBEM_S_NO_MORE_DATA", "No more data is available"},
    {0x00040006u, "WBEM_S_OPERATION_CANCELLED", "The operation was cancelled"},
    {0x00040007u, "WBEM_S_PENDING", "The request is still in progress"},
    {0x00040008u, "WBEM_S_DUPLICATE_OBJECTS", "Duplicate objects"},
    {0x00040009u, "WBEM_S_ACCESS_DENIED", "Some results were withheld for lack of access"},
    {0x00040010u, "WBEM_S_PARTIAL_RESULTS", "The result set is incomplete"},
    {0x00040017u, "WBEM_S_SOURCE_NOT_AVAILABLE", "Source not available"},
    {0x00043001u, "WBEM_S_LIMITED_SERVICE", "The provider is running with limited service"},
    {0x00043002u, "WBEM_S_INDIRECTLY_UPDATED", "Indirectly updated"},
    {0x00043003u, "WBEM_S_SUBJECT_TO_SDS", "Each event is checked against its security descriptor"},
    {0x80041001u, "WBEM_E_FAILED", "Call failed"},
    {0x80041002u, "WBEM_E_NOT_FOUND", "Object or property not found"},
    {0x80041003u, "WBEM_E_ACCESS_DENIED", "Access denied"},
    {0x80041004u, "WBEM_E_PROVIDER_FAILURE", "The provider failed"},
    {0x80041005u, "WBEM_E_TYPE_MISMATCH", "Type mismatch"},
    {0x80041006u, "WBEM_E_OUT_OF_MEMORY", "Out of memory"},
    {0x80041007u, "WBEM_E_INVALID_CONTEXT", "Invalid context"},
    {0x80041008u, "WBEM_E_INVALID_PARAMETER", "Invalid parameter"},
    {0x80041009u, "WBEM_E_NOT_AVAILABLE", "The resource is not available"},
    {0x8004100Au, "WBEM_E_CRITICAL_ERROR", "Critical error"},
    {0x8004100Bu, "WBEM_E_INVALID_STREAM", "Invalid stream"},
    {0x8004100Cu, "WBEM_E_NOT_SUPPORTED", "The feature or operation is not supported"},
    {0x8004100Du, "WBEM_E_INVALID_SUPERCLASS", "The superclass does not exist"},
    {0x8004100Eu, "WBEM_E_INVALID_NAMESPACE", "The namespace does not exist"},
    {0x8004100Fu, "WBEM_E_INVALID_OBJECT", "Invalid object"},
    {0x80041010u, "WBEM_E_INVALID_CLASS", "Invalid or unknown class"},
    {0x80041011u, "WBEM_E_PROVIDER_NOT_FOUND", "The provider is not registered or cannot be found"},
    {0x80041012u, "WBEM_E_INVALID_PROVIDER_REGISTRATION", "The provider registration is invalid"},
    {0x80041013u, "WBEM_E_PROVIDER_LOAD_FAILURE", "The provider could not be loaded"},
    {0x80041014u, "WBEM_E_INITIALIZATION_FAILURE", "The provider failed to initialize"},
    {0x80041015u, "WBEM_E_TRANSPORT_FAILURE", "Transport failure"},
    {0x80041016u, "WBEM_E_INVALID_OPERATION", "The operation is not valid here"},
    {0x80041017u, "WBEM_E_INVALID_QUERY", "The query is not syntactically valid"},
    {0x80041018u, "WBEM_E_INVALID_QUERY_TYPE", "The query language is not supported (only WQL is)"},
    {0x80041019u, "WBEM_E_ALREADY_EXISTS", "The object already exists"},
    {0x8004101Au, "WBEM_E_OVERRIDE_NOT_ALLOWED", "Override not allowed"},
    {0x8004101Bu, "WBEM_E_PROPAGATED_QUALIFIER", "Propagated qualifier"},
    {0x8004101Cu, "WBEM_E_PROPAGATED_PROPERTY", "Propagated property"},
    {0x8004101Du, "WBEM_E_UNEXPECTED", "Unexpected error"},
    {0x8004101Eu, "WBEM_E_ILLEGAL_OPERATION", "Illegal operation"},
    {0x8004101Fu, "WBEM_E_CANNOT_BE_KEY", "Cannot be key"},
    {0x80041020u, "WBEM_E_INCOMPLETE_CLASS", "Incomplete class"},
    {0x80041021u, "WBEM_E_INVALID_SYNTAX", "Invalid syntax"},
    {0x80041022u, "WBEM_E_NONDECORATED_OBJECT", "Nondecorated object"},
    {0x80041023u, "WBEM_E_READ_ONLY", "The property is read-only"},
    {0x80041024u, "WBEM_E_PROVIDER_NOT_CAPABLE", "The provider cannot perform the operation"},
    {0x80041025u, "WBEM_E_CLASS_HAS_CHILDREN", "Class has children"},
    {0x80041026u, "WBEM_E_CLASS_HAS_INSTANCES", "Class has instances"},
    {0x80041027u, "WBEM_E_QUERY_NOT_IMPLEMENTED", "Query not implemented"},
    {0x80041028u, "WBEM_E_ILLEGAL_NULL", "A NULL value is not allowed for this property"},
    {0x80041029u, "WBEM_E_INVALID_QUALIFIER_TYPE", "Invalid qualifier type"},
    {0x8004102Au, "WBEM_E_INVALID_PROPERTY_TYPE", "Invalid property type"},
    {0x8004102Bu, "WBEM_E_VALUE_OUT_OF_RANGE", "The value is out of range"},
    {0x8004102Cu, "WBEM_E_CANNOT_BE_SINGLETON", "Cannot be singleton"},
    {0x8004102Du, "WBEM_E_INVALID_CIM_TYPE", "Invalid CIM type"},
    {0x8004102Eu, "WBEM_E_INVALID_METHOD", "Invalid method"},
    {0x8004102Fu, "WBEM_E_INVALID_METHOD_PARAMETERS", "Invalid method parameters"},
    {0x80041030u, "WBEM_E_SYSTEM_PROPERTY", "System property"},
    {0x80041031u, "WBEM_E_INVALID_PROPERTY", "The property does not exist in the class"},
    {0x80041032u, "WBEM_E_CALL_CANCELLED", "The call was cancelled"},
    {0x80041033u, "WBEM_E_SHUTTING_DOWN", "The service is shutting down"},
    {0x80041034u, "WBEM_E_PROPAGATED_METHOD", "Propagated method"},
    {0x80041035u, "WBEM_E_UNSUPPORTED_PARAMETER", "Unsupported parameter"},
    {0x80041036u, "WBEM_E_MISSING_PARAMETER_ID", "Missing parameter id"},
    {0x80041037u, "WBEM_E_INVALID_PARAMETER_ID", "Invalid parameter id"},
    {0x80041038u, "WBEM_E_NONCONSECUTIVE_PARAMETER_IDS", "Nonconsecutive parameter ids"},
    {0x80041039u, "WBEM_E_PARAMETER_ID_ON_RETVAL", "Parameter id on retval"},
    {0x8004103Au, "WBEM_E_INVALID_OBJECT_PATH", "Invalid object path"},
    {0x8004103Bu, "WBEM_E_OUT_OF_DISK_SPACE", "Out of disk space"},
    {0x8004103Cu, "WBEM_E_BUFFER_TOO_SMALL", "Buffer too small"},
    {0x8004103Du, "WBEM_E_UNSUPPORTED_PUT_EXTENSION", "Unsupported put extension"},
    {0x8004103Eu, "WBEM_E_UNKNOWN_OBJECT_TYPE", "Unknown object type"},
    {0x8004103Fu, "WBEM_E_UNKNOWN_PACKET_TYPE", "Unknown packet type"},
    {0x80041040u, "WBEM_E_MARSHAL_VERSION_MISMATCH", "Marshal version mismatch"},
    {0x80041041u, "WBEM_E_MARSHAL_INVALID_SIGNATURE", "Marshal invalid signature"},
    {0x80041042u, "WBEM_E_INVALID_QUALIFIER", "Invalid qualifier"},
    {0x80041043u, "WBEM_E_INVALID_DUPLICATE_PARAMETER", "Invalid duplicate parameter"},
    {0x80041044u, "WBEM_E_TOO_MUCH_DATA", "Too much data"},
    {0x80041045u, "WBEM_E_SERVER_TOO_BUSY", "The server is too busy; try again later"},
    {0x80041046u, "WBEM_E_INVALID_FLAVOR", "Invalid flavor"},
    {0x80041047u, "WBEM_E_CIRCULAR_REFERENCE", "Circular reference"},
    {0x80041048u, "WBEM_E_UNSUPPORTED_CLASS_UPDATE", "Unsupported class update"},
    {0x80041049u, "WBEM_E_CANNOT_CHANGE_KEY_INHERITANCE", "Cannot change key inheritance"},
    {0x80041050u, "WBEM_E_CANNOT_CHANGE_INDEX_INHERITANCE", "Cannot change index inheritance"},
    {0x80041051u, "WBEM_E_TOO_MANY_PROPERTIES", "Too many properties"},
    {0x80041052u, "WBEM_E_UPDATE_TYPE_MISMATCH", "Update type mismatch"},
    {0x80041053u, "WBEM_E_UPDATE_OVERRIDE_NOT_ALLOWED", "Update override not allowed"},
    {0x80041054u, "WBEM_E_UPDATE_PROPAGATED_METHOD", "Update propagated method"},
    {0x80041055u, "WBEM_E_METHOD_NOT_IMPLEMENTED", "Method not implemented"},
    {0x80041056u, "WBEM_E_METHOD_DISABLED", "Method disabled"},
    {0x80041057u, "WBEM_E_REFRESHER_BUSY", "Refresher busy"},
    {0x80041058u, "WBEM_E_UNPARSABLE_QUERY", "The query cannot be parsed"},
    {0x80041059u, "WBEM_E_NOT_EVENT_CLASS", "The FROM class is not an event class"},
    {0x8004105Au, "WBEM_E_MISSING_GROUP_WITHIN", "GROUP BY or HAVING without GROUP WITHIN"},
    {0x8004105Bu, "WBEM_E_MISSING_AGGREGATION_LIST", "GROUP BY without an aggregation list"},
    {0x8004105Cu, "WBEM_E_PROPERTY_NOT_AN_OBJECT", "A dotted property path goes through a property that is not an object"},
    {0x8004105Du, "WBEM_E_AGGREGATING_BY_OBJECT", "GROUP BY names an embedded object; use a property of it"},
    {0x8004105Fu, "WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY", "The provider registration query names no event class"},
    {0x80041060u, "WBEM_E_BACKUP_RESTORE_WINMGMT_RUNNING", "Backup restore winmgmt running"},
    {0x80041061u, "WBEM_E_QUEUE_OVERFLOW", "The event queue overflowed"},
    {0x80041062u, "WBEM_E_PRIVILEGE_NOT_HELD", "A required privilege is not held"},
    {0x80041063u, "WBEM_E_INVALID_OPERATOR", "The operator is not valid for this property or value"},
    {0x80041064u, "WBEM_E_LOCAL_CREDENTIALS", "Local credentials"},
    {0x80041065u, "WBEM_E_CANNOT_BE_ABSTRACT", "Cannot be abstract"},
    {0x80041066u, "WBEM_E_AMENDED_OBJECT", "Amended object"},
    {0x80041067u, "WBEM_E_CLIENT_TOO_SLOW", "The client was too slow reading results"},
    {0x80041068u, "WBEM_E_NULL_SECURITY_DESCRIPTOR", "The security descriptor is NULL"},
    {0x80041069u, "WBEM_E_TIMED_OUT", "The operation timed out"},
    {0x8004106Au, "WBEM_E_INVALID_ASSOCIATION", "Invalid association"},
    {0x8004106Bu, "WBEM_E_AMBIGUOUS_OPERATION", "Ambiguous operation"},
    {0x8004106Cu, "WBEM_E_QUOTA_VIOLATION", "A quota was exceeded"},
    {0x8004106Du, "WBEM_E_RESERVED_001", "Reserved 001"},
    {0x8004106Eu, "WBEM_E_RESERVED_002", "Reserved 002"},
    {0x8004106Fu, "WBEM_E_UNSUPPORTED_LOCALE", "Unsupported locale"},
    {0x80041070u, "WBEM_E_HANDLE_OUT_OF_DATE", "Handle out of date"},
    {0x80041071u, "WBEM_E_CONNECTION_FAILED", "Connection failed"},
    {0x80041072u, "WBEM_E_INVALID_HANDLE_REQUEST", "Invalid handle request"},
    {0x80041073u, "WBEM_E_PROPERTY_NAME_TOO_WIDE", "The property name is too long"},
    {0x80041074u, "WBEM_E_CLASS_NAME_TOO_WIDE", "The class name is too long"},
    {0x80041075u, "WBEM_E_METHOD_NAME_TOO_WIDE", "Method name too wide"},
    {0x80041076u, "WBEM_E_QUALIFIER_NAME_TOO_WIDE", "Qualifier name too wide"},
    {0x80041077u, "WBEM_E_RERUN_COMMAND", "Rerun command"},
    {0x80041078u, "WBEM_E_DATABASE_VER_MISMATCH", "Database ver mismatch"},
    {0x80041079u, "WBEM_E_VETO_DELETE", "Veto delete"},
    {0x8004107Au, "WBEM_E_VETO_PUT", "Veto put"},
    {0x80041080u, "WBEM_E_INVALID_LOCALE", "Invalid locale"},
    {0x80041081u, "WBEM_E_PROVIDER_SUSPENDED", "The provider is suspended"},
    {0x80041082u, "WBEM_E_SYNCHRONIZATION_REQUIRED", "Synchronization required"},
    {0x80041083u, "WBEM_E_NO_SCHEMA", "No schema"},
    {0x80041084u, "WBEM_E_PROVIDER_ALREADY_REGISTERED", "The provider is already registered"},
    {0x80041085u, "WBEM_E_PROVIDER_NOT_REGISTERED", "The provider is not registered"},
    {0x80041086u, "WBEM_E_FATAL_TRANSPORT_ERROR", "Fatal transport error"},
    {0x80041087u, "WBEM_E_ENCRYPTED_CONNECTION_REQUIRED", "Encrypted connection required"},
    {0x80041088u, "WBEM_E_PROVIDER_TIMED_OUT", "The provider did not answer in time"},
    {0x80041089u, "WBEM_E_NO_KEY", "The instance has no value for a key property"},
    {0x8004108Au, "WBEM_E_PROVIDER_DISABLED", "The provider is disabled"},
    {0x80042001u, "WBEMESS_E_REGISTRATION_TOO_BROAD", "The provider registration overlaps the system event domain"},
    {0x80042002u, "WBEMESS_E_REGISTRATION_TOO_PRECISE", "The query needs polling; a WITHIN clause is required"},
    {0x80042003u, "WBEMESS_E_AUTHZ_NOT_PRIVILEGED", "The subscription creator could not be authorized"},
    {0x80043001u, "WBEM_E_RETRY_LATER", "Retry later"},
    {0x80043002u, "WBEM_E_RESOURCE_CONTENTION", "Resource contention"},
    {0x80044001u, "WBEMMOF_E_EXPECTED_QUALIFIER_NAME", "Expected a qualifier name"},
    {0x80044002u, "WBEMMOF_E_EXPECTED_SEMI", "Expected a semicolon"},
    {0x80044003u, "WBEMMOF_E_EXPECTED_OPEN_BRACE", "Expected an opening brace"},
    {0x80044004u, "WBEMMOF_E_EXPECTED_CLOSE_BRACE", "Missing closing brace or illegal array element"},
    {0x80044005u, "WBEMMOF_E_EXPECTED_CLOSE_BRACKET", "Expected a closing bracket"},
    {0x80044006u, "WBEMMOF_E_EXPECTED_CLOSE_PAREN", "Expected a closing parenthesis"},
    {0x80044007u, "WBEMMOF_E_ILLEGAL_CONSTANT_VALUE", "Numeric value out of range or strings without quotes"},
    {0x80044008u, "WBEMMOF_E_EXPECTED_TYPE_IDENTIFIER", "Expected a type identifier"},
    {0x80044009u, "WBEMMOF_E_EXPECTED_OPEN_PAREN", "Expected an opening parenthesis"},
    {0x8004400Au, "WBEMMOF_E_UNRECOGNIZED_TOKEN", "Unexpected token at file scope"},
    {0x8004400Bu, "WBEMMOF_E_UNRECOGNIZED_TYPE", "Unrecognized or unsupported type identifier"},
    {0x8004400Cu, "WBEMMOF_E_EXPECTED_PROPERTY_NAME", "Expected a property or method name"},
    {0x8004400Du, "WBEMMOF_E_TYPEDEF_NOT_SUPPORTED", "Typedefs and enumerated types are not supported"},
    {0x8004400Eu, "WBEMMOF_E_UNEXPECTED_ALIAS", "Only a reference to a class object can have an alias value"},
    {0x8004400Fu, "WBEMMOF_E_UNEXPECTED_ARRAY_INIT", "Array initializer for a non-array property or qualifier"},
    {0x80044010u, "WBEMMOF_E_INVALID_AMENDMENT_SYNTAX", "Invalid namespace path syntax for the amendment pragma"},
    {0x80044011u, "WBEMMOF_E_INVALID_DUPLICATE_AMENDMENT", "Duplicate amendment specifiers"},
    {0x80044012u, "WBEMMOF_E_INVALID_PRAGMA", "Invalid or unknown pragma"},
    {0x80044013u, "WBEMMOF_E_INVALID_NAMESPACE_SYNTAX", "Invalid namespace path syntax"},
    {0x80044014u, "WBEMMOF_E_EXPECTED_CLASS_NAME", "Expected a class name"},
    {0x80044015u, "WBEMMOF_E_TYPE_MISMATCH", "The value does not match the declared type"},
    {0x80044016u, "WBEMMOF_E_EXPECTED_ALIAS_NAME", "Dollar sign must be followed by an alias name"},
    {0x80044017u, "WBEMMOF_E_INVALID_CLASS_DECLARATION", "Invalid class declaration"},
    {0x80044018u, "WBEMMOF_E_INVALID_INSTANCE_DECLARATION", "Invalid instance declaration"},
    {0x80044019u, "WBEMMOF_E_EXPECTED_DOLLAR", "Expected a dollar sign before an alias"},
    {0x8004401Au, "WBEMMOF_E_CIMTYPE_QUALIFIER", "The CIMTYPE qualifier cannot be used here or does not match the type"},
    {0x8004401Bu, "WBEMMOF_E_DUPLICATE_PROPERTY", "Duplicate property name"},
    {0x8004401Cu, "WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION", "Invalid namespace syntax"},
    {0x8004401Du, "WBEMMOF_E_OUT_OF_RANGE", "Value out of range"},
    {0x8004401Eu, "WBEMMOF_E_INVALID_FILE", "The file is not a valid text MOF file or cannot be read"},
    {0x8004401Fu, "WBEMMOF_E_ALIASES_IN_EMBEDDED", "Embedded objects cannot be aliases or use alias values"},
    {0x80044020u, "WBEMMOF_E_NULL_ARRAY_ELEM", "NULL elements in an array are not supported"},
    {0x80044021u, "WBEMMOF_E_DUPLICATE_QUALIFIER", "Qualifier used more than once on the object"},
    {0x80044022u, "WBEMMOF_E_EXPECTED_FLAVOR_TYPE", "Expected a flavor type"},
    {0x80044023u, "WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES", "Incompatible flavor types"},
    {0x80044024u, "WBEMMOF_E_MULTIPLE_ALIASES", "Alias defined more than once"},
    {0x80044025u, "WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES2", "Incompatible flavor types"},
    {0x80044026u, "WBEMMOF_E_NO_ARRAYS_RETURNED", "Arrays cannot be method return types"},
    {0x80044027u, "WBEMMOF_E_MUST_BE_IN_OR_OUT", "A method parameter must have an In or Out qualifier"},
    {0x80044028u, "WBEMMOF_E_INVALID_FLAGS_SYNTAX", "Invalid flags syntax in a classflags or instanceflags pragma"},
    {0x80044029u, "WBEMMOF_E_EXPECTED_BRACE_OR_BAD_TYPE", "Expected a closing brace or a valid type"},
    {0x8004402Au, "WBEMMOF_E_UNSUPPORTED_CIMV22_QUAL_VALUE", "Unsupported CIM v2.2 qualifier value"},
    {0x8004402Bu, "WBEMMOF_E_UNSUPPORTED_CIMV22_DATA_TYPE", "Unsupported CIM v2.2 data type"},
    {0x8004402Cu, "WBEMMOF_E_INVALID_DELETEINSTANCE_SYNTAX", "Invalid deleteinstance pragma syntax"},
    {0x8004402Du, "WBEMMOF_E_INVALID_QUALIFIER_SYNTAX", "Invalid qualifier syntax"},
    {0x8004402Eu, "WBEMMOF_E_QUALIFIER_USED_OUTSIDE_SCOPE", "Qualifier used outside its declared scope"},
    {0x8004402Fu, "WBEMMOF_E_ERROR_CREATING_TEMP_FILE", "Error creating a temporary file"},
    {0x80044030u, "WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE", "Invalid or missing include file"},
    {0x80044031u, "WBEMMOF_E_INVALID_DELETECLASS_SYNTAX", "Invalid deleteclass pragma syntax"},
};

#define N_STATUS (sizeof status_table / sizeof status_table[0])

static int
cmp_status(const void *key, const void *elem)
{
    wmi_status k = *(const wmi_status *)key;
    wmi_status e = ((const struct status_entry *)elem)->value;
    return k < e ? -1 : k > e;
}

static const struct status_entry *
find(wmi_status status)
{
    return bsearch(&status, status_table, N_STATUS, sizeof status_table[0], cmp_status);
}

const char *
wmi_status_name(wmi_status status)
{
    const struct status_entry *e = find(status);
    return e ? e->name : NULL;
}

const char *
wmi_status_message(wmi_status status)
{
    const struct status_entry *e = find(status);
    return e ? e->message : "Unknown status";
}

wmi_status
wmi_status_from_name(const char *name, wmi_status *out)
{
    for (size_t i = 0; i < N_STATUS; i++) {
        if (strcmp(status_table[i].name, name) == 0) {
            *out = status_table[i].value;
            return WBEM_S_NO_ERROR;
        }
    }
    if (strcmp(name, "WBEM_S_INITIALIZED") == 0) {
        *out = WBEM_S_INITIALIZED;
        return WBEM_S_NO_ERROR;
    }
    return WBEM_E_NOT_FOUND;
}

wmi_status
wmi_error_setv(wmi_error *err, wmi_status status, const char *source, int line, int column, const char *fmt,
               va_list ap)
{
    if (err == NULL)
        return status;
    /* Formatted aside first: @source or an argument may be a field of
     * *@err, which snprintf must not read while writing it. */
    char src[sizeof err->source], text[sizeof err->text];
    snprintf(src, sizeof src, "%s", source != NULL ? source : "");
    if (fmt != NULL)
        vsnprintf(text, sizeof text, fmt, ap);
    else
        text[0] = '\0';
    err->status = status;
    err->line = line > 0 ? line : 0;
    err->column = column > 0 ? column : 0;
    memcpy(err->source, src, strlen(src) + 1);
    memcpy(err->text, text, strlen(text) + 1);
    return status;
}

wmi_status
wmi_error_set(wmi_error *err, wmi_status status, const char *source, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(err, status, source, line, column, fmt, ap);
    va_end(ap);
    return status;
}
