# Writes the version header at build time (cmake -P), so that the git revision it holds is the
# one built, not the one configured. configure_file leaves an unchanged header untouched: a build
# without a new commit recompiles nothing.
#   -DSOURCE_DIR= -DINPUT= -DOUTPUT= -DPROJECT_VERSION= [-DGIT_REVISION=]  (given: used as is)
if(NOT GIT_REVISION)
  set(GIT_REVISION unknown)
  find_program(GIT_EXECUTABLE git)
  if(GIT_EXECUTABLE)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} rev-parse --short=12 HEAD
                    OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
    if(NOT failed AND revision)
      set(GIT_REVISION ${revision})
      # Uncommitted changes to tracked files: the binary is not exactly that commit.
      execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} diff --quiet HEAD --
                      RESULT_VARIABLE dirty OUTPUT_QUIET ERROR_QUIET)
      if(dirty EQUAL 1)
        string(APPEND GIT_REVISION "-dirty")
      endif()
    endif()
  endif()
endif()
set(LOCALPROXY_GIT_REVISION ${GIT_REVISION})
configure_file(${INPUT} ${OUTPUT} @ONLY)
