/*
 * config.h - daemon settings and the object dir
 */
#ifndef WMID_CONFIG_CONFIG_H
#define WMID_CONFIG_CONFIG_H

#include "daemon/wmieventd.h"

/* Load the daemon settings; on error prints nothing and fills @err. */
bool config_load_settings(const char *path, struct wmid_settings *s, wmi_error *err);
void config_free_settings(struct wmid_settings *s);
/* Load classes then instances of every *.json in @dir; false and @err on error. */
bool config_load_objects(const char *dir, struct wmid_objects *o, wmi_error *err);
void config_free_objects(struct wmid_objects *o);
/* Append the objects created at run time (the repository document of
 * repo.c; origins "@source: object N (...)", owners their creators).  False
 * and @err naming the object when one no longer fits its class. */
bool config_add_runtime(struct wmid_objects *o, const json_t *doc, const char *source, wmi_error *err);

#endif /* WMID_CONFIG_CONFIG_H */
