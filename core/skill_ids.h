// SkillIds: the process's skill ids as small integers (interned skill IRIs).
//
// A learner's BKT estimates and a window's mastery map are small sets keyed by skill IRI, and
// IRIs are long ("https://lms.example.org/skills/course-12/skill-3"): kept as strings, every
// lookup compares heap blocks and every new entry allocates one. Interned, an entry is a
// 4-byte id beside its value, and a lookup compares integers within one block.
//
//   const SkillId id = SkillIds::Intern("https://lms.example.org/s/0042");  // same name, same id
//   std::string_view name = SkillIds::Name(id);                            // valid for ever
//
// Ids are assigned in order of first appearance, so they differ between processes: persisted
// state and records carry names, never ids. Names are never forgotten; the set is the skills
// the process has seen (a catalogue, bounded in practice). At most 2^28 distinct names.
// Thread-safe: Intern takes a shared lock (exclusive only to add a name); Name takes none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace learnflow {

using SkillId = uint32_t;

class SkillIds {
 public:
  // The id of `name`, assigned now if the name is new.
  static SkillId Intern(std::string_view name);
  // The name of an id returned by Intern (in any thread that received the id).
  static std::string_view Name(SkillId id);
  // Whether the name of `a` sorts before the name of `b` (byte order).
  static bool NameLess(SkillId a, SkillId b) { return a != b && Name(a) < Name(b); }
  // Distinct names interned so far.
  static size_t size();
};

}  // namespace learnflow
