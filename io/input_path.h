// What is wrong with a path given as an input (a data file, a checkpoint, a configuration, a
// directory of inputs), in words a user can act on: the real reason instead of a generic "does
// not exist" or an I/O error from deep inside a reader.
#pragma once

#include <string>
#include <vector>

namespace ucluster {

enum class InputKind { File, FileOrDirectory };

// "" when `path` can be opened for reading as `kind`; otherwise the problem, phrased to follow the
// quoted path: "does not exist", "is a symbolic link to 'T', which does not exist", "is a loop of
// symbolic links", "is a directory, not a file", "cannot be read (permission denied)", ...
std::string input_path_problem(const std::string& path, InputKind kind = InputKind::File);

// Throws ucluster::Error "<what> '<path>' <problem>" when there is a problem.
void require_input_path(const std::string& what, const std::string& path, InputKind kind = InputKind::File);

// Throws ucluster::Error unless `path` can be written as an output file: its directory exists, it is
// not a directory, and it is none of `inputs` (the same file under any name). `what` names the
// option in the messages ("--out").
void require_output_path(const std::string& what, const std::string& path, const std::vector<std::string>& inputs);

}  // namespace ucluster
