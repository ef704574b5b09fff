#include "operators/windows.h"

#include <algorithm>

namespace learnflow {

Session SessionSet::Add(TimestampMs t, TimestampMs gap, std::vector<Session>& merged_away) {
  merged_away.clear();
  Session merged{t, t + gap, 1};
  // Sessions overlapping or touching [t, t + gap): start <= t + gap and end >= t.
  auto first = std::lower_bound(sessions_.begin(), sessions_.end(), t,
                                [](const Session& s, TimestampMs time) { return s.end < time; });
  auto last = first;
  while (last != sessions_.end() && last->start <= t + gap) {
    merged.start = std::min(merged.start, last->start);
    merged.end = std::max(merged.end, last->end);
    merged.events += last->events;
    merged_away.push_back(*last);
    ++last;
  }
  auto at = sessions_.erase(first, last);
  sessions_.insert(at, merged);
  return merged;
}

}  // namespace learnflow
