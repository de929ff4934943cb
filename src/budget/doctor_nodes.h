// The doctor over every master of a cluster (doctor.h checks one Redis): each master's findings,
// named by node ("node 127.0.0.1:7001: maxmemory is not set ..."), with the budgets compared with
// all the masters' memory together. With one Redis: runDoctor on `one`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "budget/doctor.h"

namespace kw {

class Worker;

void runDoctorOnMasters(Worker* worker, BudgetRedis* one, DoctorFacts facts,
                        std::function<void(std::vector<std::string>)> done);

}  // namespace kw
