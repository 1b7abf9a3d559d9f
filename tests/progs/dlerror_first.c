// link: -ldl
/*
 * dlerror_first.c - prints what the program's first dlerror() returns: NULL
 * in a process that made no failed dl call (t0900: the shim's look-up of
 * CPython's symbols in a program that has none must not leave its error
 * behind).
 */
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
    const char *e = dlerror();
    printf("%s\n", e ? e : "(null)");
    return 0;
}
