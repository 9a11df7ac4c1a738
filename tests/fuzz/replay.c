/*
 * Runs a fuzz target's entry point over every file of the corpus
 * directories (or files) given, without libFuzzer: the seed corpora become
 * regression tests under the normal compiler and valgrind. Fails when an
 * input breaks a property (the target aborts) or when nothing was run.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Read a whole file; NULL on error. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)n + 1);
		if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return data;
}

static bool run_file(const char *path)
{
	size_t len = 0;
	uint8_t *data = slurp(path, &len);

	if (!data) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		return false;
	}
	/* Exactly len bytes on the heap, as libFuzzer hands them over. */
	uint8_t *exact = fuzz_dup(data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return true;
}

int main(int argc, char **argv)
{
	unsigned runs = 0, errors = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
			errors++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			run_file(argv[i]) ? runs++ : errors++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			errors++;
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			char path[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			run_file(path) ? runs++ : errors++;
		}
		closedir(d);
	}
	printf("replayed %u inputs, %u unreadable\n", runs, errors);
	return runs > 0 && errors == 0 ? 0 : 1;
}
