/* SPDX-License-Identifier: MIT */
/*
 * bench_rows.h - the rows smaf_bench prints: each is printed as it is
 * measured, kept, and at the end listed again in a summary of every target
 * (met, missed, not measured) and written as JSON. Header-only, used by
 * smaf_bench.c alone.
 *
 * A row has a figure and a target. For a comparison the figure is the ratio
 * smafd / denominator (both shown); for a rate or a count it is the value
 * itself. Targets are "<= X", ">= X" or "report" (no judgement).
 */
#ifndef SMAF_BENCH_ROWS_H
#define SMAF_BENCH_ROWS_H

#include <stdio.h>
#include <string.h>

#define ROWS_MAX 160

struct row {
	char section[16];
	char name[96];
	char unit[24];    /* of smafd and denominator (or of the figure if there is none) */
	double smafd, denominator; /* denominator < 0: not a comparison */
	double figure;    /* ratio, or the value */
	double p10;       /* p10 ratio of a block comparison, < 0 if none */
	char target[40];
	char verdict[48]; /* met, missed, report, or "not measured (why)" */
};

static struct row rows[ROWS_MAX];
static int nrows;

/* "met" or "missed" for figure against target, NULL when target judges
 * nothing ("report"). */
static const char *rows_verdict(double figure, const char *target)
{
	double x;
	if (sscanf(target, "<= %lf", &x) == 1)
		return figure <= x ? "met" : "missed";
	if (sscanf(target, ">= %lf", &x) == 1)
		return figure >= x ? "met" : "missed";
	return NULL;
}

static struct row *rows_new(const char *section, const char *name, const char *unit, const char *target)
{
	if (nrows == ROWS_MAX) {
		fprintf(stderr, "smaf_bench: more than %d rows\n", ROWS_MAX);
		exit(1);
	}
	struct row *r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->section, sizeof(r->section), "%s", section);
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->target, sizeof(r->target), "%s", target);
	r->denominator = -1;
	r->p10 = -1;
	return r;
}

static void rows_print(const struct row *r)
{
	char a[24] = "", b[24] = "", p[32] = "";
	if (r->denominator >= 0) {
		snprintf(a, sizeof(a), "%.1f", r->smafd);
		snprintf(b, sizeof(b), "%.1f", r->denominator);
	}
	if (r->p10 >= 0)
		snprintf(p, sizeof(p), "%.3f report", r->p10);
	if (!strncmp(r->verdict, "not measured", 12))
		printf("%-58s %10s %10s %9s %-9s %-16s %-10s %s\n", r->name, "-", "-", "-", "", "", r->target, r->verdict);
	else
		printf("%-58s %10s %10s %9.3f %-9s %-16s %-10s %s\n", r->name, a, b, r->figure,
		       r->denominator >= 0 ? "" : r->unit, p, r->target, r->verdict);
	fflush(stdout);
}

static void rows_header(const char *title)
{
	printf("\n== %s\n%-58s %10s %10s %9s %-9s %-16s %-10s %s\n", title, "metric", "smafd", "denominator", "figure", "",
	       "p10 ratio", "target", "verdict");
}

/* A comparison: smafd against its denominator, judged on the ratio. */
static struct row *rows_ratio(const char *section, const char *name, const char *unit, double smafd, double denominator,
			      const char *target)
{
	struct row *r = rows_new(section, name, unit, target);
	r->smafd = smafd;
	r->denominator = denominator;
	r->figure = denominator > 0 ? smafd / denominator : 0;
	const char *v = rows_verdict(r->figure, target);
	snprintf(r->verdict, sizeof(r->verdict), "%s", v ? v : "report");
	return r;
}

/* A value judged (or reported) by itself. */
static struct row *rows_value(const char *section, const char *name, const char *unit, double value, const char *target)
{
	struct row *r = rows_new(section, name, unit, target);
	r->figure = value;
	const char *v = rows_verdict(value, target);
	snprintf(r->verdict, sizeof(r->verdict), "%s", v ? v : "report");
	return r;
}

/* A row that could not be measured here, and why. */
static struct row *rows_missing(const char *section, const char *name, const char *target, const char *why)
{
	struct row *r = rows_new(section, name, "", target);
	snprintf(r->verdict, sizeof(r->verdict), "not measured (%s)", why);
	return r;
}

/* Every target again, so a reader sees at a glance which are met. */
static void rows_summary(void)
{
	int met = 0, missed = 0, unmeasured = 0;
	printf("\n== summary: every target\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		if (!strcmp(r->verdict, "report") || !strcmp(r->target, "report"))
			continue;
		if (!strcmp(r->verdict, "met"))
			met++;
		else if (!strcmp(r->verdict, "missed"))
			missed++;
		else
			unmeasured++;
		if (!strncmp(r->verdict, "not measured", 12))
			printf("  %-58s %9s %-10s %s\n", r->name, "-", r->target, r->verdict);
		else
			printf("  %-58s %9.3f %-10s %s\n", r->name, r->figure, r->target, r->verdict);
	}
	printf("targets: %d met, %d missed, %d not measured\n", met, missed, unmeasured);
}

static void rows_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else
			fputc(*s, f);
	fputc('"', f);
}

static void rows_json(FILE *f)
{
	fprintf(f, "  \"rows\": [");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		fprintf(f, "%s\n    {\"section\": ", i ? "," : "");
		rows_json_string(f, r->section);
		fprintf(f, ", \"metric\": ");
		rows_json_string(f, r->name);
		fprintf(f, ", \"unit\": ");
		rows_json_string(f, r->unit);
		if (r->denominator >= 0)
			fprintf(f, ", \"smafd\": %.3f, \"denominator\": %.3f", r->smafd, r->denominator);
		if (strncmp(r->verdict, "not measured", 12))
			fprintf(f, ", \"figure\": %.4f", r->figure);
		if (r->p10 >= 0)
			fprintf(f, ", \"p10_ratio\": %.4f", r->p10);
		fprintf(f, ", \"target\": ");
		rows_json_string(f, r->target);
		fprintf(f, ", \"verdict\": ");
		rows_json_string(f, r->verdict);
		fprintf(f, "}");
	}
	fprintf(f, "\n  ]\n");
}

#endif
