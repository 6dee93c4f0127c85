// SKELETON (to be replaced): tests of Q2_K, Q3_K.
#include <gtest/gtest.h>
