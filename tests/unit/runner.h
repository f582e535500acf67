/* Shared main() for the check unit tests: each test file defines
 * `static Suite *suite(void)` and includes this last. */
#ifndef FERRY_TEST_RUNNER_H
#define FERRY_TEST_RUNNER_H

#include <check.h>
#include <stdlib.h>

static Suite *suite(void);

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
