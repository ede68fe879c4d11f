/*
 * no_entry.c - a shared object that is not a plugin: it exports a symbol,
 * but not wmi_plugin_entry.  The host must refuse it with one log line.
 */
#include <stdint.h>

__attribute__((visibility("default"))) uint32_t wmi_not_a_plugin(uint32_t x);

uint32_t
wmi_not_a_plugin(uint32_t x)
{
    return x + 1;
}
