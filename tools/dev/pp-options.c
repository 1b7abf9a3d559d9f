/*
 * pp-options.c - prints the shim's options table as Markdown, so that
 * docs/settings.md is generated from (and tested against) the one table in
 * shim/options.c rather than written twice.
 *
 *   build/pp-options --markdown
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

int main(int argc, char **argv)
{
    size_t n;
    const struct pp_option_doc *rows = pp_options_doc(&n);
    if (argc != 2 || strcmp(argv[1], "--markdown") != 0) {
        fprintf(stderr, "usage: pp-options --markdown\n");
        return 2;
    }
    printf("| Variable | Default | Meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < n; i++)
        printf("| `%s` | `%s` | %s |\n", rows[i].name, rows[i].def, rows[i].desc);
    return 0;
}
