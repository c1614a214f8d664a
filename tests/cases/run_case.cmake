# run_case.cmake: runs one tests/cases/<processor>/<case>/ folder through
# `sqgate replay` and compares the output with expected.ndjson byte for byte.
# Invoked by ctest: cmake -DSQGATE=... -DCHECK_OUTPUTS=... -DCASE_DIR=... -DOUT=... -P run_case.cmake
set(args replay)
if(EXISTS "${CASE_DIR}/config.yaml")
  list(APPEND args -c "${CASE_DIR}/config.yaml")
endif()
set(flags "")
if(EXISTS "${CASE_DIR}/flags")
  file(STRINGS "${CASE_DIR}/flags" flags)
endif()
execute_process(COMMAND ${SQGATE} ${args} ${flags} "${CASE_DIR}/input.ndjson" -o "${OUT}"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sqgate replay exited ${rc}: ${err}")
endif()
# every output record must be valid against its schema in schemas/
execute_process(COMMAND ${CHECK_OUTPUTS} "${OUT}" RESULT_VARIABLE crc OUTPUT_VARIABLE cout
                ERROR_VARIABLE cerr)
if(NOT crc EQUAL 0)
  message(FATAL_ERROR "an output record does not match schemas/: ${cerr}${cout}")
endif()
execute_process(COMMAND diff -u "${CASE_DIR}/expected.ndjson" "${OUT}"
                RESULT_VARIABLE drc OUTPUT_VARIABLE diff)
if(NOT drc EQUAL 0)
  message(FATAL_ERROR "output differs from ${CASE_DIR}/expected.ndjson:\n${diff}")
endif()
