counter = 0
request = function()
  counter = counter + 1
  local q
  if math.random() < 0.1 then
    q = "rue%20nouvelle%20" .. counter .. "%20" .. math.random(1000000000)
  else
    q = "rue%20" .. math.random(50)
  end
  return wrk.format("GET", "/collections/addresses/items?q=" .. q)
end
