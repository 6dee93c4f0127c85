// SKELETON (to be replaced): tests of Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL.
#include <gtest/gtest.h>
