// Boost.Asio's and Boost.Beast's own non-template code, compiled once for the whole program.
//
// Every target builds with BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION
// (CMakeLists.txt): their headers then declare the libraries' functions instead of defining them
// inline in each translation unit, and Beast's HTTP parser is instantiated here once. This file is
// the one definition. It is what makes a translation unit that uses Beast compile in a fraction of
// the time (docs/design-notes.md, "Compiling Asio and Beast once").
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
