/*
 * wmievent/template.h - WMI standard string templates.
 *
 * The properties of the standard consumers marked [Template]
 * (LogFileEventConsumer.Text, CommandLineEventConsumer.CommandLineTemplate,
 * SMTPEventConsumer.Subject, ...) are expanded against the event being
 * delivered, exactly as "Using Standard String Templates" documents:
 *
 *   %Prop%        the property's value as text (90, TRUE, sshd)
 *   %A.B.C%       a dotted path into embedded objects (%TargetInstance.Name%)
 *   %%            a literal percent sign
 *   arrays        (a,b,c); one element has no parentheses; empty is ()
 *   objects       their MOF text, as GetObjectText gives it
 *   "..."         text between double quotes in the template is copied
 *                 literally, quotes included, with no substitution
 *
 * WMI leaves unknown and NULL properties undocumented; wmieventd expands
 * both to the empty string (docs/templates.md).  A '%' with no closing '%'
 * is copied literally.
 *
 * A template is compiled once and expanded many times, from any thread.
 */
#ifndef WMIEVENT_TEMPLATE_H
#define WMIEVENT_TEMPLATE_H

#include <stddef.h>

#include "export.h"
#include "object.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A compiled template.  Opaque, immutable. */
typedef struct wmi_template wmi_template;

/*
 * wmi_template_compile - compile template text (borrowed, UTF-8).
 * On success *@out is a new template (free with wmi_template_free).
 * Returns WBEM_S_NO_ERROR, WBEM_E_INVALID_PARAMETER (NULL text, or not
 * UTF-8; @err names the column) or WBEM_E_OUT_OF_MEMORY.
 */
WMI_EXTERN wmi_status wmi_template_compile(const char *text, wmi_template **out, wmi_error *err);

/* wmi_template_free - release a template.  NULL is ok. */
WMI_EXTERN void wmi_template_free(wmi_template *tmpl);

/*
 * wmi_template_expand - expand @tmpl against @event (borrowed) and append
 * the text to the caller's buffer: *@buf (malloc'd or NULL) of capacity
 * *@cap holds *@len bytes; all three are updated and the result stays
 * NUL-terminated.  Reusing one buffer across calls avoids an allocation
 * per event.  Returns WBEM_S_NO_ERROR or WBEM_E_OUT_OF_MEMORY.
 * Thread-safe for a shared template.
 */
WMI_EXTERN wmi_status wmi_template_expand(const wmi_template *tmpl, const wmi_object *event,
                               char **buf, size_t *len, size_t *cap);

/*
 * wmi_template_expand_string - one-shot: compile @text, expand it against
 * @event, and return a new malloc'd string in *@out (free it).
 */
WMI_EXTERN wmi_status wmi_template_expand_string(const char *text, const wmi_object *event, char **out);

#ifdef __cplusplus
}
#endif
#endif /* WMIEVENT_TEMPLATE_H */
