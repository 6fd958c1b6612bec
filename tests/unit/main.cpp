#define BOOST_TEST_MODULE statestore_unit
#include <boost/test/unit_test.hpp>
