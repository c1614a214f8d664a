/* replay_main.c: a main for the libFuzzer targets under tests/fuzz when they
 * are built without libFuzzer (gcc, ctest): runs LLVMFuzzerTestOneInput once
 * over every regular file in the corpus directory given as argv[1] (or over
 * the files named), so a crasher committed to the corpus stays fixed. */
#ifndef SQ_LIBFUZZER

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file into a new buffer (at least one byte allocated, so an
 * empty file gives a valid pointer). Returns NULL on error. */
static uint8_t *replay_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        uint8_t *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        /* An exact-size copy, so ASan sees any read past the input. */
        uint8_t *exact = malloc(n ? n : 1);
        if (exact)
            memcpy(exact, buf, n);
        free(buf);
        buf = exact;
    }
    *len = n;
    return buf;
}

static int replay_file(const char *path)
{
    size_t len;
    uint8_t *data = replay_read(path, &len);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
        return 2;
    }
    size_t done = 0;
    for (int a = 1; a < argc; a++) {
        struct stat sb;
        if (stat(argv[a], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[a], strerror(errno));
            return 1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (replay_file(argv[a]) != 0)
                return 1;
            done++;
            continue;
        }
        DIR *dir = opendir(argv[a]);
        if (!dir) {
            fprintf(stderr, "replay: %s: %s\n", argv[a], strerror(errno));
            return 1;
        }
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            size_t plen = strlen(argv[a]) + strlen(de->d_name) + 2;
            char *path = malloc(plen);
            if (!path)
                abort();
            snprintf(path, plen, "%s/%s", argv[a], de->d_name);
            if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                if (replay_file(path) != 0) {
                    free(path);
                    closedir(dir);
                    return 1;
                }
                done++;
            }
            free(path);
        }
        closedir(dir);
    }
    printf("replayed %zu inputs\n", done);
    /* An empty corpus is a mistake (wrong path), not a pass. */
    return done > 0 ? 0 : 1;
}

#endif
