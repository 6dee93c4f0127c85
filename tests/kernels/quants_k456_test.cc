// SKELETON (to be replaced): tests of Q4_K, Q5_K, Q6_K, IQ4_XS.
#include <gtest/gtest.h>
