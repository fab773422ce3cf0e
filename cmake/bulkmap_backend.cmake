# Backend selection: BULKMAP_BACKEND=auto|cuda|omp. Used by bulkmap's own build and, installed
# next to bulkmap-config.cmake, by projects that find_package(bulkmap).
#   auto picks cuda when nvcc and an NVIDIA GPU are present, else omp.
# Both backends take Thrust/CUB/libcu++ (CCCL) from the CUDA toolkit; omp builds with the host
# compiler only and runs Thrust's OpenMP device system on all cores.
set(BULKMAP_BACKEND "auto" CACHE STRING "bulkmap backend: auto, cuda or omp")
set_property(CACHE BULKMAP_BACKEND PROPERTY STRINGS auto cuda omp)

function(bulkmap_gpu_present out)
  set(present FALSE)
  find_program(BULKMAP_NVIDIA_SMI nvidia-smi)
  if(BULKMAP_NVIDIA_SMI)
    execute_process(COMMAND "${BULKMAP_NVIDIA_SMI}" -L RESULT_VARIABLE rc OUTPUT_VARIABLE gpus
                    ERROR_QUIET)
    if(rc EQUAL 0 AND gpus MATCHES "GPU")
      set(present TRUE)
    endif()
  endif()
  set(${out} ${present} PARENT_SCOPE)
endfunction()

if(BULKMAP_BACKEND STREQUAL "auto")
  include(CheckLanguage)
  check_language(CUDA)
  bulkmap_gpu_present(bulkmap_have_gpu)
  if(CMAKE_CUDA_COMPILER AND bulkmap_have_gpu)
    set(BULKMAP_BACKEND_RESOLVED cuda)
  else()
    set(BULKMAP_BACKEND_RESOLVED omp)
  endif()
elseif(BULKMAP_BACKEND MATCHES "^(cuda|omp)$")
  set(BULKMAP_BACKEND_RESOLVED ${BULKMAP_BACKEND})
else()
  message(FATAL_ERROR "BULKMAP_BACKEND must be auto, cuda or omp (got '${BULKMAP_BACKEND}')")
endif()
message(STATUS "bulkmap backend: ${BULKMAP_BACKEND_RESOLVED}")

if(BULKMAP_BACKEND_RESOLVED STREQUAL "cuda")
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  if(NOT DEFINED CMAKE_CUDA_RUNTIME_LIBRARY)
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
  endif()
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  enable_language(CUDA)
endif()

find_package(CUDAToolkit REQUIRED)
find_package(Thrust CONFIG REQUIRED HINTS "${CUDAToolkit_LIBRARY_DIR}/cmake/thrust"
             "${CUDAToolkit_LIBRARY_ROOT}/lib/cmake/thrust" "${CUDAToolkit_TARGET_DIR}/lib/cmake/thrust")
if(TARGET bulkmap_thrust)
  # already made by an earlier inclusion (bulkmap built in this tree, and found again)
elseif(BULKMAP_BACKEND_RESOLVED STREQUAL "cuda")
  thrust_create_target(bulkmap_thrust HOST CPP DEVICE CUDA)
else()
  thrust_create_target(bulkmap_thrust HOST CPP DEVICE OMP)
endif()

# Links the backend (Thrust with its device system) into an interface target.
function(bulkmap_link_backend target)
  target_link_libraries(${target} INTERFACE "$<BUILD_INTERFACE:bulkmap_thrust>")
endfunction()

# Marks portable sources (.cpp) to be compiled by nvcc on the cuda backend, g++ on omp.
function(bulkmap_backend_sources)
  if(BULKMAP_BACKEND_RESOLVED STREQUAL "cuda")
    set_source_files_properties(${ARGN} PROPERTIES LANGUAGE CUDA)
  endif()
endfunction()
