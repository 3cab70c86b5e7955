/*
 * eal_args prints the DPDK EAL arguments a data plane would start with:
 * "-l <cpuset>" from the cpu file and one "-a <pci>" for every network whose
 * pci file exists, in network order.
 *
 * Build: cc -O2 -Wall -o eal_args eal_args.c
 * Usage: eal_args [mountpoint]   (default /etc/netutil/fs)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* read_line reads the first line of root/rel into buf without its newline.
 * Returns 0, or an errno value (ENOENT: the value is not known). */
static int read_line(const char *root, const char *rel, char *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return errno;
	if (fgets(buf, (int)len, f) == NULL) {
		fclose(f);
		return EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int by_number(const struct dirent **a, const struct dirent **b)
{
	return atoi((*a)->d_name) - atoi((*b)->d_name);
}

static int is_network(const struct dirent *d)
{
	return d->d_name[0] >= '0' && d->d_name[0] <= '9';
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "/etc/netutil/fs";
	char value[256], rel[512], networks[4096];
	int err;

	if ((err = read_line(root, "cpu", value, sizeof(value))) != 0) {
		fprintf(stderr, "eal_args: %s/cpu: %s\n", root, strerror(err));
		return 1;
	}
	printf("-l %s", value);

	snprintf(networks, sizeof(networks), "%s/networks", root);
	struct dirent **list;
	int n = scandir(networks, &list, is_network, by_number);
	if (n < 0) {
		fprintf(stderr, "\neal_args: %s: %s\n", networks, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "networks/%s/pci", list[i]->d_name);
		err = read_line(root, rel, value, sizeof(value));
		if (err == 0)
			printf(" -a %s", value);
		else if (err != ENOENT)
			fprintf(stderr, "eal_args: %s/%s: %s\n", root, rel, strerror(err));
		free(list[i]);
	}
	free(list);
	printf("\n");
	return 0;
}
