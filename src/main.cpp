// localproxy: parse -> configure logging -> run -> exit code.
#include <iostream>

#include "localproxy/version.hpp"

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::cout << "localproxy " << localproxy::version << "\n";
  return 0;
}
