/* replay: a stand-in for libFuzzer's driver, so that builds without clang run each harness
 * over its seeds as a plain ctest test. Arguments are files or directories (their regular
 * files, in name order); each input goes to LLVMFuzzerTestOneInput from an allocation of
 * exactly its size, as libFuzzer does. A failed check aborts, naming the input just before. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one file. Returns 0, or -errno when it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;
	int rc = -EIO;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out_close;
	data = malloc(size ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
		goto out_free;
	fprintf(stderr, "replay: %s (%ld bytes)\n", path, size);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	rc = 0;
out_free:
	free(data);
out_close:
	fclose(f);
	return rc;
}

static int only_files(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Runs every file of a directory. Returns the number run, or -errno. */
static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, only_files, alphasort), run = 0, rc = 0;

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (rc == 0 && (rc = replay_file(path)) == 0)
			run++;
		free(names[i]);
	}
	free(names);
	return rc ? rc : run;
}

int main(int argc, char **argv)
{
	int total = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		int rc = stat(argv[i], &st) ? -errno : S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);

		if (rc < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(-rc));
			return 1;
		}
		total += S_ISDIR(st.st_mode) ? rc : 1;
	}
	printf("replay: %d inputs, no failure\n", total);
	return total ? 0 : 1;
}
